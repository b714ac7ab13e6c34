"""Events as they travel between the nodes of a cluster: one JSON object each.

Every envelope names the node that sent it and its ``kind``; an event inside
one is its type's name and its fields (``encode_event``). Only the event
types below travel; anything else read from the bus is refused with
``ValueError`` (another version's node, or a corrupt payload), never guessed at.
"""

import dataclasses
import json
from typing import Any

from glozi.domain import events
from glozi.domain.events import Event, Message
from glozi.domain.sessions import Session

TRAVELLING: dict[str, type[Event]] = {
    name: getattr(events, name)
    for name in (
        "AdminChanged", "IdleWarning", "Invited", "Killed", "Left", "MemberAway", "MemberInvited", "MemberJoined",
        "MemberLeft", "MemberRenamed", "Message", "ModeChanged", "PrivateMessage", "RealNameChanged",
        "ServerClosing", "SessionCtcp", "SessionTagMessage", "TopicChanged", "Wallops",
    )
}
MAX_MSGID = 100
"""The longest message id an envelope may carry (the ids nodes give are far shorter: docs/history.md)."""
_FIELDS = {
    name: tuple(f.name for f in dataclasses.fields(cls) if f.name != "encoded") for name, cls in TRAVELLING.items()
}


def encode_event(event: Event) -> dict[str, Any]:
    """``event`` as a JSON object: its type and its fields."""
    name = type(event).__name__
    body: dict[str, Any] = {"type": name}
    for field in _FIELDS[name]:
        body[field] = getattr(event, field)
    return body


def decode_event(body: Any) -> Event:
    """The event ``encode_event`` made; ``ValueError`` for anything else."""
    if not isinstance(body, dict) or body.get("type") not in TRAVELLING:
        raise ValueError(f"not an event that travels between nodes: {body!r:.100}")
    name = body["type"]
    try:
        return TRAVELLING[name](**{field: body[field] for field in _FIELDS[name] if field in body})
    except TypeError as error:
        raise ValueError(f"a {name} with wrong fields: {error}") from None


def pack(envelope: dict[str, Any]) -> bytes:
    """One envelope as the bytes the bus carries."""
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


def unpack(payload: bytes) -> dict[str, Any]:
    """The envelope ``pack`` made; ``ValueError`` when it is not one."""
    try:
        envelope = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("node"), str) or "kind" not in envelope:
        raise ValueError(f"not an envelope: {payload!r:.100}")
    return envelope


def message_envelope(node: str, seq: int, message: Message, exclude: str | None) -> bytes:
    """A committed chat message, number ``seq`` of its session."""
    return pack(
        {
            "node": node,
            "kind": "message",
            "seq": seq,
            "session": message.session_id,
            "sender": message.sender,
            "text": message.text,
            "sent_at": message.sent_at,
            "notice": message.notice,
            "action": message.action,
            "msgid": message.msgid,
            "exclude": exclude,
        }
    )


def message_from(envelope: dict[str, Any]) -> tuple[int, Message, str | None]:
    """The sequence number, message and excluded member's name of a ``message`` envelope."""
    try:
        message = Message(
            session_id=int(envelope["session"]),
            sender=str(envelope["sender"]),
            text=str(envelope["text"]),
            sent_at=float(envelope["sent_at"]),
            notice=bool(envelope.get("notice")),
            action=bool(envelope.get("action")),
            msgid=envelope["msgid"],
        )
        if not isinstance(message.msgid, str) or not 0 < len(message.msgid) <= MAX_MSGID:
            raise ValueError(f"not a message id: {message.msgid!r:.100}")
        exclude = envelope.get("exclude")
        return int(envelope["seq"]), message, exclude if isinstance(exclude, str) else None
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"a message envelope with wrong fields: {error}") from None


def session_state(session: Session) -> dict[str, Any]:
    """What another node needs to hold ``session`` as this one does, beside
    its members: its admin, who has voice, its password hash and its rules."""
    rules = session.rules
    return {
        "admin": session.admin.name if session.admin is not None else None,
        "voiced": [member.name for member in session.members.values() if member.voiced],
        "password_hash": session.password_hash,
        "rules": {
            "topic": rules.topic,
            "topic_by": rules.topic_by,
            "topic_at": rules.topic_at,
            "topic_locked": rules.topic_locked,
            "invite_only": rules.invite_only,
            "invited": [seat.nick for seat in rules.invited if seat.nick is not None],
            "limit": rules.limit,
            "moderated": rules.moderated,
            "bans": list(rules.bans),
            "exceptions": list(rules.exceptions),
            "invite_exceptions": list(rules.invite_exceptions),
            "no_external": rules.no_external,
            "no_ctcp": rules.no_ctcp,
            "secret": rules.secret,
        },
    }
