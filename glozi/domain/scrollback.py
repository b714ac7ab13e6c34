"""A session's most recent messages, packed into one buffer.

Scrollback is the one thing the server keeps from the messages that pass
through it. Kept as ``Message`` objects, every message left a handful of
small objects behind (the message, its text, its stamp, its encoded copies)
allocated in the middle of whatever load was going on. CPython's small-object
allocator returns a 1 MiB arena to the system only when every object in it is
gone, so a few hundred such survivors spread over the arenas a load peak
created kept most of that peak's memory for good (docs/security.md, "Soak
run"). Packed as bytes in one ``bytearray`` per session, scrollback adds no
small objects at all; a joiner gets fresh ``Message`` objects decoded from it.
"""

import struct
from collections.abc import Iterable, Iterator

from glozi.domain.events import Message
from glozi.storage.store import SharedFile

# A record: stamp, sender length, text length, id length, shared file length
# (0: none), whether it is an action, then sender, text, id and the shared
# file's record (as the store keeps it, JSON) in UTF-8.
_HEADER = struct.Struct("<dHIHH?")


def _pack(message: Message) -> bytes:
    sender = message.sender.encode("utf-8")
    text = message.text.encode("utf-8")
    msgid = message.msgid.encode("utf-8")
    shared = message.file.to_json().encode("utf-8") if message.file is not None else b""
    header = _HEADER.pack(message.sent_at, len(sender), len(text), len(msgid), len(shared), message.action)
    return header + sender + text + msgid + shared


class Scrollback:
    """The last ``limit`` messages of session ``session_id``, oldest first."""

    __slots__ = ("_buffer", "_count", "limit", "session_id")

    def __init__(self, session_id: int, limit: int) -> None:
        self.session_id = session_id
        self.limit = limit
        self._buffer = bytearray()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def _records(self) -> Iterator[tuple[int, int]]:
        """(offset, size) of every record, oldest first."""
        offset = 0
        buffer = self._buffer
        while offset < len(buffer):
            _, sender_size, text_size, msgid_size, file_size, _ = _HEADER.unpack_from(buffer, offset)
            size = _HEADER.size + sender_size + text_size + msgid_size + file_size
            yield offset, size
            offset += size

    def __iter__(self) -> Iterator[Message]:
        buffer = self._buffer
        for offset, size in self._records():
            sent_at, sender_size, text_size, msgid_size, file_size, action = _HEADER.unpack_from(buffer, offset)
            start = offset + _HEADER.size
            text_start = start + sender_size
            msgid_start = text_start + text_size
            file_start = msgid_start + msgid_size
            yield Message(
                session_id=self.session_id,
                sender=buffer[start:text_start].decode("utf-8"),
                text=buffer[text_start:msgid_start].decode("utf-8"),
                sent_at=sent_at,
                action=action,
                msgid=buffer[msgid_start:file_start].decode("utf-8"),
                file=SharedFile.from_json(buffer[file_start : offset + size].decode("utf-8")) if file_size else None,
            )

    def append(self, message: Message) -> None:
        if self.limit <= 0:
            return
        self._buffer += _pack(message)
        self._count += 1
        if self._count > self.limit:
            _, size = next(self._records())
            del self._buffer[:size]
            self._count -= 1

    def extend(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self.append(message)

    def remove(self, message: Message) -> bool:
        """Take ``message`` out (the newest copy of it); say whether it was there."""
        record = _pack(message)
        found = None
        for offset, size in self._records():
            if size == len(record) and self._buffer[offset : offset + size] == record:
                found = offset, size
        if found is None:
            return False
        offset, size = found
        del self._buffer[offset : offset + size]
        self._count -= 1
        return True

    def clear(self) -> None:
        self._buffer = bytearray()
        self._count = 0
