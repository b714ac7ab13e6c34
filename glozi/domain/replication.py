"""What the chat server tells the other servers of its cluster, beside the session events.

A server alone (the default) has ``ALONE``, which tells nobody. In a cluster
(glozi/cluster/) every node keeps the whole chat in memory; the session
events reach the other nodes through the fan-out, and the rest of what
changes (users claiming and letting go of names, sessions created and
removed, wrong guesses) through this seam. A new session's id and its name's
uniqueness are decided by the cluster's record, so ``reserve_session``
answers later.
"""

from typing import Protocol

from twisted.internet.defer import Deferred, succeed

from glozi.domain.sessions import Seat as Participant
from glozi.domain.sessions import Session


class Replication(Protocol):
    """The changes a node makes that the other nodes must learn of."""

    def reserve_session(
        self, name: str, creator: str, created_at: float, password_hash: str | None
    ) -> "Deferred[int | None]":
        """The id of a new session called ``name``, or ``None`` for the server
        to number it; fails with ``ChatError("session_exists")`` when another
        node has one of that name."""

    def session_created(self, session: Session) -> None:
        """``session`` was created here (its creator is already its member)."""

    def session_removed(self, session: Session) -> None:
        """``session`` was closed or lost its last member here."""

    def session_changed(self, session: Session) -> None:
        """``session``'s password (its lock) changed here."""

    def nick_claimed(self, participant: Participant, old: str | None) -> None:
        """``participant`` (connected here) took its nick, giving up ``old``."""

    def nick_released(self, participant: Participant, nick: str) -> None:
        """``participant`` (connected here) let go of ``nick``."""

    def user_changed(self, participant: Participant) -> None:
        """``participant`` finished registering, went away or came back, or took a new real name."""

    def guess_failed(self, source: str) -> None:
        """A wrong session password came from ``source``."""

    def exit_code_failed(self, source: str) -> None:
        """A wrong server exit code came from ``source``."""


class _Alone:
    """One server with no cluster: nobody else to tell."""

    def reserve_session(
        self, name: str, creator: str, created_at: float, password_hash: str | None
    ) -> "Deferred[int | None]":
        return succeed(None)

    def session_created(self, session: Session) -> None:
        pass

    def session_removed(self, session: Session) -> None:
        pass

    def session_changed(self, session: Session) -> None:
        pass

    def nick_claimed(self, participant: Participant, old: str | None) -> None:
        pass

    def nick_released(self, participant: Participant, nick: str) -> None:
        pass

    def user_changed(self, participant: Participant) -> None:
        pass

    def guess_failed(self, source: str) -> None:
        pass

    def exit_code_failed(self, source: str) -> None:
        pass


ALONE: Replication = _Alone()
