"""The server password (``--password``): one secret every connection gives
before anything else, through either door (IRC's ``PASS``, the native
``hello``'s ``password``).

It is kept only as a salted scrypt hash from the moment it is read, and
checked off the reactor like session passwords. A connection has one try: a
wrong or missing password closes it. Guessing limits, on their own records:
per source 3 free wrong passwords, then delays from 2 s doubling up to an
hour; sources that already failed share 3 guesses an hour; 60 wrong a minute
server-wide (glozi/limits/guessing.py).
"""

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger

from glozi.domain.chat import ChatServer, Participant
from glozi.domain.errors import ChatError
from glozi.domain.names import OPER_PASSWORD_RULE, is_valid_oper_password
from glozi.limits.guessing import GuessGuard

SERVER_PASSWORD_RULE = OPER_PASSWORD_RULE
"""What ``--password`` may be: the operator passwords' rule."""
# The one server password is one target for the guessing limits.
_SERVER_LOGIN = "server password"


def is_valid_server_password(password: str) -> bool:
    """Whether ``password`` may be the server password."""
    return is_valid_oper_password(password)


class ServerPassword:
    """Whether ``chat`` asks for a password, and the check of one connection's."""

    log = Logger()

    def __init__(self, chat: ChatServer, password_hash: str | None = None) -> None:
        self.chat = chat
        self._hash = password_hash
        self.guard = GuessGuard(chat.clock, what="server password")

    @property
    def required(self) -> bool:
        return self._hash is not None

    def check(self, user: Participant, password: str | None) -> "Deferred[None]":
        """Succeed when no password is required or ``password`` is the right
        one. Fails with ``server_password_required`` (none given),
        ``bad_server_password`` (a wrong one) or ``too_many_attempts`` (the
        guessing limits, with ``retry_after``); the door then closes the
        connection."""
        if self._hash is None:
            return succeed(None)
        if password is None:
            return fail(ChatError("server_password_required", "This server needs a password.", disconnect=True))
        try:
            self.guard.allow(user, user.source, _SERVER_LOGIN)
        except ChatError as refusal:
            return fail(ChatError(refusal.code, refusal.message, retry_after=refusal.retry_after, disconnect=True))

        def checked(matches: bool) -> None:
            if matches:
                self.guard.succeeded(user, user.source)
            else:
                self.guard.failed(user, user.source)
            # One try a connection: its own record is of no more use.
            self.guard.disconnected(user)
            if not matches:
                self.log.warn("A wrong server password from {source}", source=user.source)
                raise ChatError("bad_server_password", "Wrong server password.", disconnect=True)

        return self.chat.passwords.verify(password, self._hash).addCallback(checked)
