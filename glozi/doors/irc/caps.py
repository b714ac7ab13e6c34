"""The IRCv3 capabilities the IRC door offers (docs/irc.md, *IRCv3
capabilities*), as bits of one number per connection, and ``CAP REQ``'s
arithmetic on them: pure functions, no sockets.

Only a few bits change the bytes of a shared event (``VARIANT``); a
connection's bits of those are its *variant*, and each event is encoded once
per variant (glozi/doors/irc/wire.py, ``encode_event``).
"""



class Cap:
    """One bit each; a connection's capabilities are the sum of theirs.

    Plain ints, not an ``IntFlag``: a connection tests them on every line it
    is delivered, and an ``IntFlag``'s ``&`` and hash run Python code.
    """

    MESSAGE_TAGS = 1
    SERVER_TIME = 2
    EXTENDED_JOIN = 4
    AWAY_NOTIFY = 8
    ECHO_MESSAGE = 16
    BATCH = 32
    LABELED_RESPONSE = 64
    MULTI_PREFIX = 128
    USERHOST_IN_NAMES = 256
    INVITE_NOTIFY = 512
    SETNAME = 1024
    CAP_NOTIFY = 2048
    CHATHISTORY = 4096


NAMES: dict[str, int] = {
    "away-notify": Cap.AWAY_NOTIFY,
    "batch": Cap.BATCH,
    "cap-notify": Cap.CAP_NOTIFY,
    "draft/chathistory": Cap.CHATHISTORY,
    "echo-message": Cap.ECHO_MESSAGE,
    "extended-join": Cap.EXTENDED_JOIN,
    "invite-notify": Cap.INVITE_NOTIFY,
    "labeled-response": Cap.LABELED_RESPONSE,
    "message-tags": Cap.MESSAGE_TAGS,
    "multi-prefix": Cap.MULTI_PREFIX,
    "server-time": Cap.SERVER_TIME,
    "setname": Cap.SETNAME,
    "userhost-in-names": Cap.USERHOST_IN_NAMES,
}
"""Every capability offered, by the name ``CAP LS`` lists (none has a value)."""

OFFERED = sum(NAMES.values())
TAGGED = Cap.MESSAGE_TAGS | Cap.SERVER_TIME
"""The capabilities that put tags on shared lines."""
VARIANT = TAGGED | Cap.EXTENDED_JOIN | Cap.AWAY_NOTIFY | Cap.SETNAME | Cap.INVITE_NOTIFY
"""The capabilities that change a shared event's bytes."""
LABELS = Cap.LABELED_RESPONSE | Cap.BATCH
"""A ``label`` is answered only with both (labeled-response needs batch)."""
LS_VERSION = 302
"""``CAP LS 302`` (or higher): multi-line replies, and ``cap-notify`` on without asking."""


def listed(caps: int) -> str:
    """``caps`` by name, space-separated, in the order ``CAP LS`` lists them."""
    return " ".join(name for name, cap in NAMES.items() if cap & caps)


def requested(words: str, caps: int) -> int | None:
    """``caps`` after ``CAP REQ :words`` (``name`` adds, ``-name`` removes), or
    ``None`` when a word names no capability offered, which refuses them all."""
    for word in words.split():
        cap = NAMES.get(word.removeprefix("-"))
        if cap is None:
            return None
        caps = caps & ~cap if word.startswith("-") else caps | cap
    return caps
