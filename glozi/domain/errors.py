"""Error codes shared by the chat domain and every wire protocol.

Each code is a stable string that clients may switch on; ``ERROR_CODES`` maps
each to a one-line description, which docs/protocol.md lists in full.
"""

ERROR_CODES: dict[str, str] = {
    # Frame-level errors, produced by a protocol's parser.
    "bad_json": "the line is not valid JSON",
    "bad_utf8": "the line is not valid UTF-8",
    "not_object": "the line is JSON but not an object",
    "unknown_type": "the frame's type is not one the server knows",
    "missing_field": "a required field is missing",
    "bad_field": "a field has the wrong type or an unusable value",
    "line_too_long": "the line is longer than the maximum; the connection is closed",
    "unsupported_protocol": "the client speaks a protocol version the server does not",
    "invalid_name": "a username or session name breaks its naming rule (the message states it)",
    "invalid_password": "a session password is not exactly 5 digits",
    "invalid_exit_code": "an exit code is not exactly 10 digits",
    # Refusals from the chat domain.
    "wrong_state": "the frame is not allowed now (in a session vs at the session list, a join in flight)",
    "no_such_session": "no session has that id",
    "wrong_password": "the session password is wrong",
    "password_required": "the session needs a password and none was given",
    "name_taken": "someone connected to the server already uses that name (case-insensitive), or it is reserved",
    "username_mismatch": "a join or create named another username than the one this connection uses in its sessions",
    "not_in_session": "the connection is not a member of the session the frame names",
    "already_in_session": "the connection is already a member of that session",
    "too_many_sessions": "the connection is a member of as many sessions as one user may be",
    "no_such_user": "nobody connected has that name",
    "session_exists": "a session with that name already exists (case-insensitive)",
    "unknown_command": "no such command; /help lists them",
    "bad_arguments": "the command's arguments do not match its usage",
    "not_admin": "the command is for the session's admin only",
    "no_such_member": "nobody in the session has that name",
    "cannot_kick_self": "an admin cannot kick themselves; use /quit",
    "banned": "a ban of the session (and no ban exception) matches you, so you cannot join it or (unless admin or voiced) talk in it",
    "invite_only": "the session is invite-only (+i) and its admin has not invited you",
    "session_full": "the session has as many members as its limit (+l) allows",
    "moderated": "the session is moderated (+m): only its admin and voiced members may talk",
    "unknown_mode": "no such mode letter; the modes are C, I, b, e, i, k, l, m, n, o, s, t and v",
    "too_many_bans": "the session keeps as many bans, ban exceptions or invite exceptions as it may (50 of each); lift one first",
    "wrong_exit_code": "the server exit code is wrong",
    "too_many_attempts": "too many wrong passwords or exit codes from here; try again after retry_after seconds",
    "flood": "lines are arriving too fast; the line was dropped (sustained, the connection is closed)",
    "rate_limited": "joins, session creations or admin commands are arriving too fast; try again shortly",
    "too_many_connections": "the server, or this address, has too many connections; this one is closed",
    "idle": "the connection sent nothing for too long at the session list and is closed",
    "internal_error": "the server failed to handle the frame; nothing was changed",
    "builtin_session": "the built-in sessions cannot be closed, not even by a server operator",
    "not_operator": "the request is for server operators only (oper first)",
    "bad_oper_password": "the operator name or password is wrong (which of the two is not said)",
    "server_password_required": "the server needs a password (--password) and none was given; the connection is closed",
    "bad_server_password": "the server password is wrong; the connection is closed",
    "not_stored": "the message reached the others but could not be stored, so it is not in the history",
    "files_unavailable": "this server shares no files (no web door, or a node of a cluster)",
    "file_too_large": "the file is larger than the server takes (--max-file-size)",
    "too_many_uploads": "the connection already holds 4 upload tokens",
    "user_quota_exceeded": "the file would take your kept files past your quota (--user-quota)",
    "files_quota_exceeded": "the file would take the server's kept files past its quota (--files-quota)",
}


class TransferError(Exception):
    """An HTTP file transfer was refused (docs/files.md): ``code`` is the JSON
    answer's, and no error code of the chat protocols."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ChatError(Exception):
    """A request was refused; ``code`` is one of ``ERROR_CODES``.

    ``disconnect`` asks the protocol to close the connection after reporting
    the error (for example after too many wrong exit codes); ``retry_after``
    says in how many seconds a refused attempt may be made again.
    """

    def __init__(
        self, code: str, message: str, *, disconnect: bool = False, retry_after: float | None = None
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.disconnect = disconnect
        self.retry_after = retry_after
