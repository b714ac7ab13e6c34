"""A session's own rules, the channel modes of IRC: its topic (and ``+t``,
whether only the admin sets it), invite-only (``+i``) and its invitations,
the key (``+k``, the session password), a member limit (``+l``), moderation
(``+m``) with voice (``+v``), bans (``+b``) and their exceptions (``+e``),
invite exceptions (``+I``), secrecy (``+s``), no CTCP (``+C``, kept here,
applied by the IRC door: only IRC speaks CTCP) and the admin role (``+o``).
No messages from outside (``+n``) is on by default: ``-n`` lets a user who
is not a member send the session a message.

Plain Python. Each operation is asked by a ``Member`` of the session, checks
that they may, changes the session and tells its members (``TopicChanged``,
``ModeChanged``, ``AdminChanged``) and the session list. Both doors call these
same functions: the native door through the command table
(glozi/domain/commands.py), the IRC door from TOPIC, MODE and INVITE.
``parse_modes`` reads IRC's mode syntax (``+kl 12345 10``) for both.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.python.failure import Failure

from glozi.domain.errors import ChatError
from glozi.domain.events import Invited, LeaveReason, MemberInvited, ModeChanged, TopicChanged
from glozi.domain.masks import matches
from glozi.domain.names import PASSWORD_RULE, USERNAME_SPECIALS, is_valid_password, name_key
from glozi.domain.sessions import Member, Rules, Seat, Session

TOPIC_MAX_LENGTH = 300
"""The longest topic, in characters (IRC's ``TOPICLEN``)."""
MEMBER_LIMIT_MAX = 9999
"""The largest member limit ``+l`` takes."""
MAX_BANS = 50
"""Masks one session keeps at most in each of its three lists: bans, ban
exceptions and invite exceptions (IRC's ``MAXLIST=b:50,e:50,I:50``)."""
BAN_MASK_MAX_LENGTH = 64
MODE_LETTERS = "CIbeiklmnostv"
"""Every channel mode the server knows."""
LIST_MODES = "beI"
"""Modes that keep a list of masks: bans, ban exceptions, invite exceptions."""
_LIST_NAMES = {"b": "bans", "e": "ban exceptions", "I": "invite exceptions"}
_TAKES_PARAMETER = "beIkov"
"""Modes whose parameter comes when set and when unset (``-k`` may omit it)."""
_TAKES_PARAMETER_WHEN_SET = "l"
_MASK = re.compile(rf"[A-Za-z0-9{re.escape(USERNAME_SPECIALS)}*?.]+![A-Za-z0-9{re.escape(USERNAME_SPECIALS)}*?.]+@[A-Za-z0-9*?.-]+")


@dataclass(frozen=True, slots=True)
class ModeChange:
    """One mode to set (``adding``) or unset, with its parameter if it has one."""

    adding: bool
    letter: str
    parameter: str | None = None

    def __str__(self) -> str:
        sign = "+" if self.adding else "-"
        return f"{sign}{self.letter}" + (f" {self.parameter}" if self.parameter is not None else "")


def parse_modes(words: Sequence[str]) -> list[ModeChange]:
    """IRC mode words (``["+kl-i", "12345", "10"]``) as changes, in order.

    Raises ``unknown_mode`` for a letter the server does not know and
    ``bad_arguments`` when a mode's parameter is missing. ``b``, ``e`` or
    ``I`` without a parameter (asking for that list) is a change with none.
    """
    if not words:
        return []
    changes: list[ModeChange] = []
    parameters = list(words[1:])
    adding = True
    for letter in words[0]:
        if letter in "+-":
            adding = letter == "+"
            continue
        if letter not in MODE_LETTERS:
            raise ChatError("unknown_mode", f"{letter} is not a mode the server knows ({MODE_LETTERS}).")
        needs = letter in _TAKES_PARAMETER or (adding and letter in _TAKES_PARAMETER_WHEN_SET)
        parameter = parameters.pop(0) if needs and parameters else None
        if parameter is None and needs and letter not in LIST_MODES + "k":
            raise ChatError("bad_arguments", f"{'+' if adding else '-'}{letter} needs a parameter.")
        if parameter is None and needs and letter == "k" and adding:
            raise ChatError("bad_arguments", f"+k needs the key, {PASSWORD_RULE}.")
        changes.append(ModeChange(adding, letter, parameter))
    return changes


def ban_mask(text: str) -> str:
    """A ban mask in full ``nick!user@host`` form: ``bob`` is ``bob!*@*``,
    ``*@host`` is ``*!*@host``. Raises ``bad_arguments`` for one that cannot match a user."""
    if "!" not in text and "@" not in text:
        text += "!*@*"
    elif "!" not in text:
        text = "*!" + text
    elif "@" not in text:
        text += "@*"
    if len(text) > BAN_MASK_MAX_LENGTH or _MASK.fullmatch(text) is None:
        raise ChatError(
            "bad_arguments",
            f"A ban mask is nick!user@host with * and ? (at most {BAN_MASK_MAX_LENGTH} characters), or a nick.",
        )
    return text


def user_mask(nick: str) -> str:
    """What bans are matched against: every user is ``nick!nick@glozichat``."""
    return f"{nick}!{nick}@glozichat"


def is_banned(session: Session, nick: str) -> bool:
    """Whether a ban matches ``nick`` and no ban exception (``+e``) does."""
    rules = session.rules
    # Every message asks this: with no bans it costs one test.
    if not rules.bans:
        return False
    who = user_mask(nick)
    return _any_matches(rules.bans, who) and not _any_matches(rules.exceptions, who)


def _any_matches(masks: list[str], who: str) -> bool:
    return any(matches(mask, who) for mask in masks)


def check_admission(session: Session, seat: Seat) -> None:
    """Raise the refusal ``seat`` gets joining ``session``: ``banned`` (unless
    a ban exception matches), ``invite_only`` (neither invited nor matched by
    an invite exception), ``session_full`` (at its ``+l``, not invited)."""
    rules = session.rules
    assert seat.nick is not None
    if is_banned(session, seat.nick):
        raise ChatError("banned", f"You are banned from {session.name}.")
    invited = seat in rules.invited
    if rules.invite_only and not invited and not _any_matches(rules.invite_exceptions, user_mask(seat.nick)):
        raise ChatError("invite_only", f"{session.name} is invite-only: its admin must /invite you.")
    # Modern IRC: an invitation also lets you past the member limit.
    if rules.limit is not None and len(session.members) >= rules.limit and not invited:
        raise ChatError("session_full", f"{session.name} is full: {rules.limit} members at most.")


def admitted(session: Session, seat: Seat) -> None:
    """``seat`` joined ``session``: its invitation is used."""
    session.rules.invited.discard(seat)


def may_speak(member: Member) -> None:
    """Raise ``banned`` when a ban matches ``member``, ``moderated`` when its
    session is ``+m``; its admin and voiced members may always talk."""
    if member.voiced or member.is_admin:
        return
    session = member.session
    # A ban removes nobody, but silences a member it matches, as on IRC servers.
    if is_banned(session, member.name):
        raise ChatError("banned", f"You are banned from {session.name}: only its admin and voiced members may talk.")
    if session.rules.moderated:
        raise ChatError("moderated", f"{session.name} is moderated: only its admin and voiced members may talk.")


def may_speak_from_outside(session: Session, nick: str) -> None:
    """Raise the refusal ``nick``, who is not a member of the ``-n`` session
    ``session``, gets sending it a message: ``banned`` when a ban matches them,
    ``moderated`` under ``+m`` (nobody outside is voiced)."""
    if is_banned(session, nick):
        raise ChatError("banned", f"You are banned from {session.name}: only its admin and voiced members may talk.")
    if session.rules.moderated:
        raise ChatError("moderated", f"{session.name} is moderated: only its admin and voiced members may talk.")


def require_admin(member: Member, what: str) -> None:
    if not member.is_admin:
        raise ChatError("not_admin", f"{what} is for the session's admin only.")


def set_topic(member: Member, text: str) -> None:
    """Set (or with ``""`` clear) the topic; under ``+t`` only the admin may.
    Raises ``bad_arguments`` past ``TOPIC_MAX_LENGTH`` characters."""
    session = member.session
    if session.rules.topic_locked:
        require_admin(member, "Setting the topic (+t)")
    if len(text) > TOPIC_MAX_LENGTH:
        raise ChatError("bad_arguments", f"A topic is at most {TOPIC_MAX_LENGTH} characters.")
    rules = session.rules
    server = member.participant.server
    rules.topic, rules.topic_by, rules.topic_at = text, member.name, server.clock.seconds()
    server.announce(session, TopicChanged(session_id=session.id, topic=text, by=member.name, at=rules.topic_at))


def invite(member: Member, nick: str) -> str:
    """The admin invites the user ``nick`` (either door) to join once, past
    ``+i``; they are told (``Invited``). Returns their nick as they spell it.
    Raises ``no_such_user`` and ``already_in_session``."""
    require_admin(member, "Inviting")
    session = member.session
    target = member.participant.server.user_named(nick)
    if target is None or target.nick is None:
        raise ChatError("no_such_user", f"Nobody named {nick} is connected.")
    if session.id in target.members:
        raise ChatError("already_in_session", f"{target.nick} is in {session.name} already.")
    session.rules.invited.add(target)
    target.connection.deliver(Invited(session_id=session.id, session_name=session.name, by=member.name))
    member.participant.server.fanout.publish(
        session, MemberInvited(session_id=session.id, by=member.name, nick=target.nick), exclude=member
    )
    return target.nick


class ModeRefused(ChatError):
    """A mode change was refused: ``change`` is the one, ``applied`` the
    changes before it that took effect (they stay)."""

    def __init__(self, error: ChatError, change: ModeChange, applied: list[ModeChange]) -> None:
        super().__init__(error.code, error.message, retry_after=error.retry_after)
        self.change = change
        self.applied = applied


def change_modes(member: Member, changes: Sequence[ModeChange]) -> "Deferred[list[ModeChange]]":
    """Apply ``changes`` in order as the session's admin; the result is the
    changes that took effect (a change to what already holds is none). A
    refused change (``not_admin``, ``bad_arguments``, ``invalid_password``,
    ``no_such_member``, ``too_many_bans`` for any of the three lists) fails the Deferred with
    ``ModeRefused``, and the changes after it are not tried; a new key is
    hashed off the reactor first."""
    applied: list[ModeChange] = []

    def took(changed: "bool | ModeChange", change: ModeChange) -> None:
        # A ban reports the mask as kept (bob is bob!*@*).
        if changed:
            applied.append(changed if isinstance(changed, ModeChange) else change)

    def refused(reason: Failure, change: ModeChange) -> None:
        reason.trap(ChatError)
        raise ModeRefused(reason.value, change, applied)

    def step(_: object, change: ModeChange) -> "Deferred[None]":
        return maybeDeferred(_apply, member, change).addCallbacks(took, refused, (change,), None, (change,))

    done: Deferred[None] = succeed(None)
    for change in changes:
        done.addCallback(step, change)
    return done.addCallback(lambda _: applied)


def _apply(member: Member, change: ModeChange) -> "bool | ModeChange | Deferred[bool]":
    # Checked for each change: a +o earlier in the same MODE hands the role on.
    require_admin(member, "Changing the session's modes")
    session, rules, on = member.session, member.session.rules, change.adding
    if change.letter == "k":
        return _set_key(member, change.parameter if on else None)
    if change.letter == "o":
        if not on:
            raise ChatError("bad_arguments", "A session always has one admin: hand the role on with +o NAME.")
        return hand_admin(member, change.parameter or "")
    if change.letter == "v":
        target = _member_named(session, change.parameter or "")
        if target.voiced == on:
            return False
        target.voiced = on
        _tell(member, ModeChange(on, "v", target.name))
        return True
    if change.letter in LIST_MODES:
        return _list_mask(member, change)
    if change.letter == "l":
        limit = _limit(change.parameter) if on else None
        if rules.limit == limit:
            return False
        rules.limit = limit
        _tell(member, ModeChange(on, "l", str(limit) if limit else None))
        return True
    if change.letter == "s":
        return _set_secret(member, on)
    flag = {"C": "no_ctcp", "i": "invite_only", "m": "moderated", "n": "no_external", "t": "topic_locked"}[change.letter]
    if getattr(rules, flag) == on:
        return False
    setattr(rules, flag, on)
    _tell(member, ModeChange(on, change.letter))
    return True


def _tell(member: Member, change: ModeChange) -> None:
    session = member.session
    member.participant.server.announce(
        session,
        ModeChanged(session_id=session.id, by=member.name, mode=f"{'+' if change.adding else '-'}{change.letter}",
                    parameter=change.parameter),
    )


def _member_named(session: Session, name: str) -> Member:
    target = session.member_named(name)
    if target is None:
        raise ChatError("no_such_member", f"Nobody named {name!r} is in this session.")
    return target


def _limit(text: str | None) -> int:
    if text is None or not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MEMBER_LIMIT_MAX:
        raise ChatError("bad_arguments", f"The member limit is a number from 1 to {MEMBER_LIMIT_MAX}.")
    return int(text)


def _set_secret(member: Member, on: bool) -> bool:
    session = member.session
    if session.rules.secret == on:
        return False
    # The session list never hears of a secret session: the change goes out
    # while the session is secret, then the list loses (+s) or gains (-s) it whole.
    session.rules.secret = True
    _tell(member, ModeChange(on, "s"))
    session.rules.secret = on
    member.participant.server.secrecy_changed(session)
    return True


def _masks(rules: Rules, letter: str) -> list[str]:
    return {"b": rules.bans, "e": rules.exceptions, "I": rules.invite_exceptions}[letter]


def _list_mask(member: Member, change: ModeChange) -> "ModeChange | None":
    masks = _masks(member.session.rules, change.letter)
    if change.parameter is None:
        return None
    mask = ban_mask(change.parameter)
    key = name_key(mask)
    present = next((m for m in masks if name_key(m) == key), None)
    if change.adding:
        if present is not None:
            return None
        if len(masks) >= MAX_BANS:
            what = _LIST_NAMES[change.letter]
            raise ChatError("too_many_bans", f"A session keeps at most {MAX_BANS} {what}; remove one first.")
        masks.append(mask)
    else:
        if present is None:
            return None
        masks.remove(present)
        mask = present
    kept = ModeChange(change.adding, change.letter, mask)
    _tell(member, kept)
    return kept


def mask_list(member: Member, letter: str = "b") -> list[str]:
    """The session's bans (``b``), ban exceptions (``e``) or invite
    exceptions (``I``), oldest first (members may read them)."""
    return list(_masks(member.session.rules, letter))


def _set_key(member: Member, password: str | None) -> "bool | Deferred[bool]":
    """Lock the session with ``password`` (a new one replaces the old), or
    unlock it with ``None``. The hash is stored as at creation (docs/history.md)."""
    session = member.session
    server = member.participant.server
    if password is None:
        if not session.locked:
            return False
        _keyed(member, None, None)
        return True
    if not is_valid_password(password):
        raise ChatError("invalid_password", f"The key must be {PASSWORD_RULE}.")
    if session.rules.keying:
        raise ChatError("wrong_state", "A key change is already in progress; wait for its answer.")
    session.rules.keying = True

    def hashed(password_hash: str) -> bool:
        if server.sessions.get(session.id) is not session or not member.is_admin:
            raise ChatError("not_admin", "You are no longer the session's admin; the key is unchanged.")
        _keyed(member, password_hash, password)
        return True

    def finished(result: object) -> object:
        session.rules.keying = False
        return result

    return server.passwords.hash(password).addCallback(hashed).addBoth(finished)


def _keyed(member: Member, password_hash: str | None, password: str | None) -> None:
    session = member.session
    server = member.participant.server
    session.password_hash = password_hash
    server.store_session(session)
    _tell(member, ModeChange(password is not None, "k", password))


def hand_admin(member: Member, name: str) -> bool:
    """The admin hands the role to member ``name``; the giver is then an
    ordinary member (with an idle timeout). Everyone is told (``AdminChanged``
    with ``by``). Raises ``no_such_member``; to oneself it is no change."""
    session = member.session
    heir = _member_named(session, name)
    if heir is member:
        return False
    member.participant.server.make_admin(session, heir, by=member.name)
    return True


def ban_and_kick(member: Member, name: str, comment: str | None) -> str:
    """Ban member ``name`` by nick (``name!*@*``) and kick them; returns the mask.
    Raises ``no_such_member`` and ``cannot_kick_self``."""
    session = member.session
    target = _member_named(session, name)
    if target is member:
        raise ChatError("cannot_kick_self", "You cannot ban yourself.")
    mask = ban_mask(target.name)
    _list_mask(member, ModeChange(True, "b", mask))
    member.participant.server.remove_member(target, LeaveReason.KICKED, by=member.name, comment=comment)
    return mask
