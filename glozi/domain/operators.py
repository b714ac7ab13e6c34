"""Server operators: who may log in as one, and what an operator may do.

The server is started with operator accounts (``--oper NAME:PASSWORD`` or
``--oper-file``), each kept only as a salted scrypt hash from the moment it is
read. A user becomes an operator with the right name and password (checked off
the reactor, like session passwords, under the same kind of guessing limits).
An operator may close any session, disconnect any user (``kill``) with a
reason, and send a wallops to every user who asked for them; any user may ask
for wallops. Plain Python: the state is the ``operator`` and ``wallops`` of
each ``Participant`` (glozi/domain/chat.py).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger

from glozi.domain.chat import ChatServer, Participant
from glozi.domain.errors import ChatError
from glozi.domain.events import Killed, LeaveReason, Wallops
from glozi.domain.names import (
    OPER_PASSWORD_RULE,
    USERNAME_RULE,
    is_valid_oper_password,
    is_valid_username,
    name_key,
)
from glozi.limits.guessing import GuessGuard

OPER_SPEC_RULE = f"NAME:PASSWORD, where NAME is {USERNAME_RULE} and PASSWORD is {OPER_PASSWORD_RULE}"
# Every operator login is one target for the guessing limits: sources that
# already failed share this budget, whichever operator name they try.
_OPERATOR_LOGINS = "operators"


@dataclass(frozen=True)
class OperatorAccount:
    """One operator: the name to log in with and its password's hash (never the password)."""

    name: str
    password_hash: str


def parse_operator(spec: str) -> tuple[str, str]:
    """``NAME:PASSWORD`` as its name and password (split at the first colon).

    Raises ``ValueError`` saying which rule is broken; the message never
    repeats the value, which may hold a password.
    """
    name, colon, password = spec.partition(":")
    if not colon:
        raise ValueError(f"an operator is given as {OPER_SPEC_RULE}; there is no colon")
    if not name:
        raise ValueError(f"an operator is given as {OPER_SPEC_RULE}; the name is empty")
    if not is_valid_username(name):
        raise ValueError(f"an operator name must be {USERNAME_RULE}")
    if not is_valid_oper_password(password):
        raise ValueError(f"an operator password must be {OPER_PASSWORD_RULE}")
    return name, password


class Operators:
    """The server's operator accounts and the operators' powers over ``chat``.

    Operator names compare as nicks do (any case). Guessing limits, on their
    own records (guessing here never slows down session joins): per
    connection and per source 3 free wrong passwords, then delays from 2 s
    doubling (up to 10 minutes a connection, an hour a source); sources that
    already failed share 3 guesses an hour; 60 wrong a minute server-wide.
    """

    log = Logger()

    def __init__(self, chat: ChatServer, accounts: Iterable[OperatorAccount] = ()) -> None:
        self.chat = chat
        self._accounts: dict[str, OperatorAccount] = {}
        for account in accounts:
            if name_key(account.name) in self._accounts:
                raise ValueError(f"the operator {account.name} is given twice")
            self._accounts[name_key(account.name)] = account
        self.guard = GuessGuard(chat.clock, what="operator password")
        self._checking: set[Participant] = set()
        """Users whose operator password is being checked (one check at a time each)."""

    @property
    def names(self) -> list[str]:
        """The operator names, as given."""
        return [account.name for account in self._accounts.values()]

    def oper(self, user: Participant, name: str, password: str) -> "Deferred[None]":
        """Make ``user`` an operator when ``name`` and ``password`` match an
        account. Fails with ``bad_oper_password`` (a wrong name and a wrong
        password are told apart to nobody), ``too_many_attempts`` from the
        guessing limits, or ``wrong_state`` with no nick yet or a check in flight."""
        if user.nick is None:
            return fail(ChatError("wrong_state", "You have no name yet; join or create a session first."))
        if user in self._checking:
            return fail(ChatError("wrong_state", "An operator password is already being checked; wait for its answer."))
        try:
            self.guard.allow(user, user.source, _OPERATOR_LOGINS)
        except ChatError as refusal:
            return fail(refusal)
        account = self._accounts.get(name_key(name))
        # An unknown name is checked against another account's hash, so that
        # the answer takes as long as for a known one.
        against = account or next(iter(self._accounts.values()), None)
        if against is None:
            self._failed(user)
            return fail(self._refusal())
        self._checking.add(user)

        def checked(matches: bool) -> None:
            self._checking.discard(user)
            if not (matches and account is not None):
                self._failed(user)
                raise self._refusal()
            self.guard.succeeded(user, user.source)
            if not user.connected:
                raise ChatError("wrong_state", "The connection closed before the password was checked.")
            user.operator = account.name
            self.log.info("{nick} ({source}) is a server operator now, as {name}", nick=user.nick, source=user.source, name=account.name)

        def not_checked(reason: object) -> object:
            self._checking.discard(user)
            return reason

        return self.chat.passwords.verify(password, against.password_hash).addCallbacks(checked, not_checked)

    def _failed(self, user: Participant) -> None:
        self.guard.failed(user, user.source)
        self.log.warn("A wrong operator name or password from {nick} ({source})", nick=user.nick, source=user.source)

    @staticmethod
    def _refusal() -> ChatError:
        return ChatError("bad_oper_password", "Wrong operator name or password.")

    def set_modes(
        self,
        user: Participant,
        *,
        wallops: bool | None = None,
        operator: bool | None = None,
        invisible: bool | None = None,
    ) -> None:
        """Ask for wallops (or stop), become invisible (or visible), and drop
        operator status with ``operator=False``; becoming one takes ``oper``,
        so ``operator=True`` raises ``not_operator`` for anyone who is not one
        already."""
        if operator and user.operator is None:
            raise ChatError("not_operator", "Only OPER with an operator name and password makes you an operator.")
        if operator is False and user.operator is not None:
            self.log.info("{nick} is no longer a server operator", nick=user.nick)
            user.operator = None
        if wallops is not None:
            user.wallops = wallops
        if invisible is not None:
            user.invisible = invisible

    def _require_operator(self, user: Participant) -> str:
        if user.operator is None or user.nick is None:
            raise ChatError("not_operator", "Permission denied: you are not a server operator.")
        return user.nick

    def kill(self, user: Participant, nick: str, reason: str) -> str:
        """Disconnect the user ``nick`` for ``reason``: they get ``Killed``,
        everyone sharing a session with them a ``MemberLeft`` (``killed``, by
        ``user``'s nick, with the reason); the nick is free at once. Returns
        the nick as its holder spelled it. Raises ``not_operator`` or ``no_such_user``."""
        by = self._require_operator(user)
        target = self.chat.user_named(nick)
        if target is None or target.nick is None:
            raise ChatError("no_such_user", f"Nobody named {nick} is connected.")
        killed = target.nick
        self.log.info("Operator {by} killed {nick}: {reason}", by=by, nick=killed, reason=reason)
        connection = target.connection
        connection.deliver(Killed(by=by, reason=reason))
        # Gone for the domain now: a join waiting for its password hash is refused when it answers.
        target.connected = False
        for member in list(target.members.values()):
            self.chat.remove_member(member, LeaveReason.KILLED, by=by, comment=reason)
        self.chat.release_nick(target)
        connection.close()
        return killed

    def wallops(self, user: Participant, text: str) -> float:
        """Send ``text`` to every user who asked for wallops (``user`` too,
        if they did); returns its time stamp. Raises ``not_operator``."""
        sender = self._require_operator(user)
        sent_at = self.chat.clock.seconds()
        event = Wallops(sender=sender, text=text, sent_at=sent_at)
        for listener in list(self.chat.participants):
            if listener.wallops and listener.connected:
                listener.connection.deliver(event)
        return sent_at

    def close_session(self, user: Participant, session_id: int) -> str:
        """Close session ``session_id`` for everyone, as an operator who need
        not be in it; returns the text for the operator. Raises
        ``not_operator`` or ``no_such_session``."""
        by = self._require_operator(user)
        session = self.chat.sessions.get(session_id)
        if session is None:
            raise ChatError("no_such_session", f"There is no session {session_id}.")
        if session.permanent:
            raise ChatError("builtin_session", f"{session.name} is a built-in session; it cannot be closed.")
        self.log.info("Operator {by} closed session {name} ({id})", by=by, name=session.name, id=session.id)
        self.chat.close_session(session, by=by)
        return f"You closed {session.name}."

    def may_close(self, user: Participant, session_id: int | None) -> bool:
        """Whether a ``close`` naming ``session_id`` is an operator closing a session they are not in."""
        return user.operator is not None and session_id is not None and session_id not in user.members

