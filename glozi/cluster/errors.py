"""What the cluster's record refuses: the claims another node made first."""


class SessionNameTaken(Exception):
    """Another session (made on any node) already has this name, by its key."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a session named {name!r} exists")
        self.name = name


class NickTaken(Exception):
    """A user on another node holds this nick (by its key)."""

    def __init__(self, nick: str) -> None:
        super().__init__(f"the nick {nick!r} is in use")
        self.nick = nick
