"""IRCv3 message tags (extensions/message-tags.md): pure functions, no sockets.

A received line may start with ``@tags``; ``split_tags`` takes them off and
bounds them, ``parse_tags`` reads them (values unescaped), ``client_only``
keeps the ``+`` tags a server relays, and ``with_tags`` puts tags in front of
lines the server sends (values escaped, the server's own tags first).
"""

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

MAX_CLIENT_TAG_BYTES = 4094
"""Most tag data (between ``@`` and the space) a client may send: longer is ``417``."""
MAX_TAG_BYTES = 8191
"""Most tag bytes on any line, ``@`` and the space included: the server's tags
(at most ``MAX_CLIENT_TAG_BYTES`` too) before the client-only ones it relays."""
MAX_LABEL_BYTES = 64
"""Longest ``label`` (extensions/labeled-response.md); a longer one is not repeated."""
NO_TAGS: Mapping[str, str] = MappingProxyType({})

_KEY = re.compile(r"\+?(?:[A-Za-z0-9.-]+/)?[A-Za-z0-9-]+")
_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPED = re.compile(r"\\(.?)", re.DOTALL)
_TO_ESCAPE = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n", "\0": ""})


class TaggedLine(NamedTuple):
    """A received line split in two: its tag data (``b""`` when none) and the rest."""

    tags: bytes
    rest: bytes


def split_tags(raw: bytes) -> TaggedLine:
    """``@a=b;c :nick PRIVMSG …`` as ``(b"a=b;c", b":nick PRIVMSG …")``; a line
    without ``@`` is all rest. Spaces between the parts are dropped."""
    if not raw.startswith(b"@"):
        return TaggedLine(b"", raw)
    data, _, rest = raw[1:].partition(b" ")
    return TaggedLine(data, rest.lstrip(b" "))


def unescape(value: str) -> str:
    """A tag value as sent (``a\\sb``) as meant (``a b``); a lone ``\\`` at the end is dropped."""
    if "\\" not in value:
        return value
    return _ESCAPED.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), value)


def escape(value: str) -> str:
    """A tag value as it goes on a line: ``;``, space, ``\\``, CR and LF escaped (NUL dropped)."""
    return value.translate(_TO_ESCAPE)


def parse_tags(data: str) -> dict[str, str]:
    """Tag data (``a=b;+c;d=``) as a dict of unescaped values (``""`` for none);
    a key that is not a valid tag name is ignored, and of a key given twice the
    last one counts."""
    tags: dict[str, str] = {}
    for item in data.split(";"):
        key, _, value = item.partition("=")
        if _KEY.fullmatch(key):
            tags[key] = unescape(value)
    return tags


def client_only(tags: Mapping[str, str]) -> str:
    """The client-only (``+``) tags of ``tags`` as tag data to relay, ``""`` when none."""
    return ";".join(format_tag(key, value) for key, value in tags.items() if key.startswith("+"))


def format_tag(key: str, value: str) -> str:
    """One tag as it goes on a line: ``key`` or ``key=escaped``."""
    return f"{key}={escape(value)}" if value else key


def with_tags(data: bytes, tag_data: str, *, first: str = "") -> bytes:
    """Every line of ``data`` with ``tag_data`` (``a=b;c``) in front, before any
    tags the line has already, and ``first`` too on the first line only (a
    message's ``msgid``, which names one line); ``data`` itself when there are none."""
    if not data or not (tag_data or first):
        return data
    head = ";".join(filter(None, (first, tag_data))).encode("utf-8")
    if data.find(b"\r\n") == len(data) - 2:
        # One line, as nearly every message is: no splitting.
        return b"@" + head + (b";" + data[1:] if data[:1] == b"@" else b" " + data)
    every = tag_data.encode("utf-8")
    out = []
    for index, raw in enumerate(data.split(b"\r\n")[:-1]):
        tags = head if index == 0 else every
        if not tags:
            out.append(raw + b"\r\n")
        elif raw.startswith(b"@"):
            out.append(b"@" + tags + b";" + raw[1:] + b"\r\n")
        else:
            out.append(b"@" + tags + b" " + raw + b"\r\n")
    return b"".join(out)


def has_tag(raw: bytes, key: bytes) -> bool:
    """Whether the line ``raw`` carries the tag ``key`` (``b"batch"``)."""
    if not raw.startswith(b"@"):
        return False
    data = raw[1:].partition(b" ")[0]
    return any(item.partition(b"=")[0] == key for item in data.split(b";"))
