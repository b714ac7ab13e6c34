"""Sharing files: upload tokens, quotas, who may download, and the private chats' files (docs/files.md).

Plain rules over the chat's participants and the store: no sockets and no
disk. The web door moves the bytes (glozi/doors/web/files.py) and the files
directory keeps them (glozi/storage/blobs.py); this decides what is allowed.
"""

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from glozi.domain import rules
from glozi.domain.errors import ChatError, TransferError
from glozi.domain.events import PrivateMessage
from glozi.domain.names import share_text
from glozi.limits.guessing import source_group
from glozi.storage.store import SharedFile

UPLOAD_PATH = "/upload"
"""Where the bytes are sent (PUT) on the web port."""
UPLOAD_TOKEN_SECONDS = 300
"""An upload must start within this many seconds of its token."""
MAX_UPLOAD_TOKENS = 4
"""Upload tokens one connection holds at once (given, or spent and still uploading)."""
DEFAULT_MAX_FILE_SIZE = 26_214_400
DEFAULT_USER_QUOTA = 104_857_600
DEFAULT_FILES_QUOTA = 1_073_741_824
MAX_FILE_NAME_CHARS = 200
MAX_MEDIA_TYPE_CHARS = 100
SWEEP_SECONDS = 60.0
"""How often the files directory is cleared of what the retention dropped."""

_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$")
_NAME_FORBIDDEN = re.compile("[/\\\\\x00-\x1f\x7f-\x9f\u2028\u2029]")
FILE_NAME_RULE = "The file name must be 1 to 200 characters, without / \\ or control characters."


def valid_file_name(name: str) -> bool:
    """docs/files.md: 1 to 200 characters, no ``/`` ``\\`` or control characters, not ``.``, ``..`` or blank."""
    return (
        0 < len(name) <= MAX_FILE_NAME_CHARS
        and not _NAME_FORBIDDEN.search(name)
        and name not in (".", "..")
        and bool(name.strip())
    )


def valid_media_type(media_type: str) -> bool:
    """A ``type/subtype`` of at most 100 token characters, no parameters."""
    return len(media_type) <= MAX_MEDIA_TYPE_CHARS and _MEDIA_TYPE.match(media_type) is not None


def download_path(file_hash: str, name: str) -> str:
    """``/files/HASH/NAME``, the name percent-encoded as UTF-8."""
    return f"/files/{file_hash}/{quote(name, safe='')}"


def thumbnail_path(file_hash: str) -> str:
    return f"/thumbnails/{file_hash}"


def new_token() -> str:
    """43 URL-safe characters from 32 random bytes."""
    return secrets.token_urlsafe(32)


@dataclass(eq=False)
class UploadGrant:
    """What one upload token allows: one file, to one session or one person."""

    token: str
    uploader: Any
    """The ``Participant`` that asked."""
    name: str
    size: int
    media_type: str
    session_id: int | None
    recipient: Any
    """The private chat's other ``Participant``, or ``None``."""
    to: str | None
    """The recipient's name as the uploader wrote it."""
    expiry: IDelayedCall | None = None
    spent: bool = False


@dataclass(eq=False)
class _PrivateFile:
    shared: SharedFile
    readers: tuple[Any, Any]


@dataclass
class _Usage:
    user: int = 0
    total: int = 0
    hashes: set[str] = field(default_factory=set)


class FileSharing:
    """The server's file rules. ``server`` is the ``ChatServer``; ``sweep``
    is called with every hash still referenced whenever the files
    directory may hold what nothing references any more."""

    log = Logger()

    def __init__(
        self,
        server: Any,
        clock: IReactorTime,
        *,
        max_file_size: int = DEFAULT_MAX_FILE_SIZE,
        user_quota: int = DEFAULT_USER_QUOTA,
        files_quota: int = DEFAULT_FILES_QUOTA,
        sweep: Callable[[set[str]], None] = lambda keep: None,
    ) -> None:
        self.server = server
        self.clock = clock
        self.max_file_size = max_file_size
        self.user_quota = user_quota
        self.files_quota = files_quota
        self._sweep = sweep
        self._download_tokens: dict[str, Any] = {}
        self._token_of: dict[Any, str] = {}
        self._grants: dict[str, UploadGrant] = {}
        self._open: dict[Any, list[UploadGrant]] = {}
        """Each participant's grants not yet finished (given, or spent and uploading)."""
        self._private: list[_PrivateFile] = []
        self._pinned: dict[str, int] = {}
        """Hashes being written or announced now: never swept."""
        self._touched: set[str] = set()

    # Tokens

    def download_token(self, participant: Any) -> str:
        """The connection's download token (the same for its whole life)."""
        token = self._token_of.get(participant)
        if token is None:
            token = self._token_of[participant] = new_token()
            self._download_tokens[token] = participant
        return token

    def request_upload(
        self, participant: Any, session_id: int | None, to: str | None, name: str, size: int, media_type: str
    ) -> "Deferred[UploadGrant]":
        """An upload token for ``name`` (``size`` bytes of ``media_type``) to
        session ``session_id`` or to the user named ``to``. Raises ``ChatError``
        in the order of docs/files.md; the quotas are read from the store, so
        the result may come later."""
        if participant.nick is None:
            raise ChatError("wrong_state", "You have no name yet; join or create a session first.")
        recipient = None
        if session_id is not None:
            member = participant.member_of(session_id)
            if member.session.rules.moderated or member.session.rules.bans:
                rules.may_speak(member)
        else:
            assert to is not None
            recipient = self.server.user_named(to)
            if recipient is None:
                raise ChatError("no_such_user", f"Nobody named {to} is connected.")
            if recipient is participant:
                raise ChatError("bad_field", "You cannot share a file with yourself.")
        if size > self.max_file_size:
            raise ChatError(
                "file_too_large",
                f"The file is {size:,} bytes; this server takes files up to {self.max_file_size:,} bytes.",
            )
        if len(self._open.get(participant, ())) >= MAX_UPLOAD_TOKENS:
            raise ChatError("too_many_uploads", f"You already have {MAX_UPLOAD_TOKENS} uploads waiting; finish one first.")
        grant = UploadGrant(new_token(), participant, name, size, media_type, session_id, recipient, to)
        # Held at once, so that two requests in one turn both count toward the limit and the quotas.
        self._open.setdefault(participant, []).append(grant)

        def counted(usage: _Usage) -> UploadGrant:
            try:
                self._check_quotas(participant, size, usage, grant)
            except ChatError:
                self._close(grant)
                raise
            if not participant.connected:
                self._close(grant)
                raise ChatError("wrong_state", "The connection is closed.")
            self._grants[grant.token] = grant
            grant.expiry = self.clock.callLater(UPLOAD_TOKEN_SECONDS, self._expire, grant)
            return grant

        def failed(reason: Any) -> Any:
            self._close(grant)
            return reason

        return self._usage(source_group(participant.source)).addCallbacks(counted, failed)

    def _usage(self, source: str) -> "Deferred[_Usage]":
        def add(kept: list[tuple[int, SharedFile]]) -> _Usage:
            usage = _Usage()
            for _, shared in kept:
                if source_group(shared.source) == source:
                    usage.user += shared.size
                if shared.hash not in usage.hashes:
                    usage.hashes.add(shared.hash)
                    usage.total += shared.size
            for private in self._private:
                if private.shared.hash not in usage.hashes:
                    usage.hashes.add(private.shared.hash)
                    usage.total += private.shared.size
                if source_group(private.shared.source) == source:
                    usage.user += private.shared.size
            return usage

        return self.server.store.kept_files().addCallback(add)

    def _check_quotas(self, participant: Any, size: int, usage: _Usage, grant: UploadGrant) -> None:
        source = source_group(participant.source)
        pending = [g for grants in self._open.values() for g in grants if g is not grant]
        user = usage.user + sum(g.size for g in pending if source_group(g.uploader.source) == source)
        total = usage.total + sum(g.size for g in pending)
        if user + size > self.user_quota:
            raise ChatError(
                "user_quota_exceeded",
                f"You have {user:,} bytes of files kept; a file of {size:,} bytes would pass your quota of"
                f" {self.user_quota:,} bytes.",
            )
        if total + size > self.files_quota:
            raise ChatError(
                "files_quota_exceeded",
                f"The server keeps {total:,} bytes of files; a file of {size:,} bytes would pass its quota of"
                f" {self.files_quota:,} bytes.",
            )

    def _expire(self, grant: UploadGrant) -> None:
        grant.expiry = None
        if not grant.spent:
            self._close(grant)

    def _close(self, grant: UploadGrant) -> None:
        self._grants.pop(grant.token, None)
        if grant.expiry is not None and grant.expiry.active():
            grant.expiry.cancel()
        grant.expiry = None
        open_grants = self._open.get(grant.uploader, [])
        if grant in open_grants:
            open_grants.remove(grant)
        if not open_grants:
            self._open.pop(grant.uploader, None)

    def grant_for(self, token: str) -> UploadGrant | None:
        """The unspent, unexpired grant of upload token ``token``."""
        return self._grants.get(token)

    def spend(self, grant: UploadGrant) -> None:
        """The upload has begun: the token is used up (the grant still counts until ``finish`` or ``abandon``)."""
        grant.spent = True
        self._grants.pop(grant.token, None)
        if grant.expiry is not None and grant.expiry.active():
            grant.expiry.cancel()
        grant.expiry = None

    def abandon(self, grant: UploadGrant) -> None:
        """The upload failed or was cancelled: nothing is announced."""
        self._close(grant)

    # Announcing

    def pin(self, file_hash: str) -> None:
        """Keep ``file_hash``'s files from the sweep while it is being written and announced."""
        self._pinned[file_hash] = self._pinned.get(file_hash, 0) + 1
        self._touched.add(file_hash)

    def unpin(self, file_hash: str) -> None:
        left = self._pinned[file_hash] - 1
        if left:
            self._pinned[file_hash] = left
        else:
            del self._pinned[file_hash]

    def check_still_allowed(self, grant: UploadGrant) -> None:
        """Raise ``not_in_session`` or ``no_such_user`` when the upload's sender
        or recipient has gone since the token was given."""
        uploader = grant.uploader
        if grant.session_id is not None:
            if not uploader.connected or grant.session_id not in uploader.members:
                raise ChatError("not_in_session", "You are no longer in that session; nothing was shared.")
        elif not uploader.connected or not grant.recipient.connected:
            raise ChatError("no_such_user", f"{grant.to} is no longer connected; nothing was shared.")

    def announce(self, grant: UploadGrant, shared: SharedFile) -> "Deferred[dict[str, Any]]":
        """Share ``shared`` as ``grant`` allows: a stored action in the session,
        or a private message; fires with the uploader's answer (docs/files.md's
        201 body, without ``file``), or fails with ``ChatError``."""
        try:
            self.check_still_allowed(grant)
        except ChatError:
            self._close(grant)
            raise
        self._close(grant)
        uploader = grant.uploader
        text = share_text(shared.name, shared.size)
        if grant.session_id is not None:
            sent = uploader.share_file(grant.session_id, text, shared)
            return sent.addCallback(
                lambda message: {"session": message.session_id, "msgid": message.msgid, "ts": message.sent_at}
            )
        sent_at = uploader.last_spoke = self.clock.seconds()
        message = PrivateMessage(
            sender=uploader.nick, text=text, sent_at=sent_at, action=True, msgid=self.server.message_ids(), file=shared
        )
        self._private.append(_PrivateFile(shared, (uploader, grant.recipient)))
        grant.recipient.connection.deliver(message)
        return succeed({"to": grant.to, "msgid": message.msgid, "ts": sent_at})

    # Reading

    def may_read(self, token: str, file_hash: str, name: str | None) -> "Deferred[SharedFile]":
        """The file ``token``'s connection may read now, by hash and name (a
        thumbnail: ``name`` is ``None``). Fails with ``TransferError``:
        ``bad_token``, ``not_allowed`` or ``no_such_file``."""
        reader = self._download_tokens.get(token)
        if reader is None or not reader.connected:
            raise TransferError("bad_token", "No connected user has this download token.")

        def fits(shared: SharedFile) -> bool:
            return shared.hash == file_hash and (shared.name == name if name is not None else shared.is_image)

        privately = [p for p in self._private if fits(p.shared)]
        for private in privately:
            if reader in private.readers:
                return succeed(private.shared)

        def decide(kept: list[tuple[int, SharedFile]]) -> SharedFile:
            matching = [(session_id, shared) for session_id, shared in kept if fits(shared)]
            for session_id, shared in matching:
                if session_id in reader.members:
                    return shared
            if matching or privately:
                raise TransferError("not_allowed", "You may not read this file: it was shared where you are not.")
            raise TransferError("no_such_file", "No such file is kept.")

        return self.server.store.kept_files(file_hash).addCallback(decide)

    # Forgetting

    def forget(self, participant: Any) -> None:
        """The connection is gone: its download token, its upload tokens and
        its private chats' files go with it."""
        token = self._token_of.pop(participant, None)
        if token is not None:
            del self._download_tokens[token]
        for grant in list(self._open.get(participant, ())):
            if not grant.spent:
                self._close(grant)
        before = len(self._private)
        self._private = [p for p in self._private if participant not in p.readers]
        if len(self._private) != before:
            self.sweep()

    def sweep(self) -> "Deferred[None]":
        """Hand ``sweep`` every hash still referenced: kept messages, private
        chats, and whatever was pinned since this sweep began."""
        self._touched = set(self._pinned)

        def referenced(kept: Iterable[tuple[int, SharedFile]]) -> None:
            keep = {shared.hash for _, shared in kept} | {p.shared.hash for p in self._private}
            self._sweep(keep | self._touched | set(self._pinned))

        def unread(reason: Any) -> None:
            # Nothing is deleted when the store cannot say what is referenced; the next sweep tries again.
            self.log.failure("Could not read the kept files; nothing swept", reason)

        return self.server.store.kept_files().addCallback(referenced).addErrback(unread)
