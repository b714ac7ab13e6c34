"""twistd wiring: ``twistd [-n] glozichat [options]``."""

import socket
from typing import ClassVar, TextIO

from twisted.application.service import IService, MultiService
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IReactorCore
from twisted.python import usage

from glozi.chat import DEFAULT_IDLE_TIMEOUT, ChatServer
from glozi.exitcode import new_exit_code
from glozi.irc.protocol import IRCFactory
from glozi.native.protocol import NativeFactory
from glozi.service import ChatService, ListeningService
from glozi.tracking import TrackingFactory

DEFAULT_PORT = "tcp:7557"
DEFAULT_IRC_PORT = "tcp:6667"
DISABLED = "none"
DEFAULT_EXIT_CODE_FILE = "glozichat.exitcode"


def _positive_seconds(value: str) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise ValueError("must be a positive number of seconds")
    return seconds


class Options(usage.Options):
    """Command-line options of the glozichat server."""

    synopsis = "[options]"
    longdesc = (
        "Run a GloziChat server: sessions, admins and commands over a JSON line protocol,"
        " and the same sessions as IRC channels."
    )
    optParameters: ClassVar[list[list[object]]] = [
        ["port", "p", DEFAULT_PORT, "Endpoint for the native protocol (e.g. tcp:7557, ssl:...)."],
        ["irc-port", None, DEFAULT_IRC_PORT, f"Endpoint for IRC clients (e.g. tcp:6667), or {DISABLED!r} for no IRC."],
        [
            "idle-timeout",
            None,
            DEFAULT_IDLE_TIMEOUT,
            "Seconds of silence before a member is removed (warned at half).",
            _positive_seconds,
        ],
        [
            "exit-code-file",
            None,
            DEFAULT_EXIT_CODE_FILE,
            "File the server exit code is written to (mode 0600).",
        ],
        ["name", None, socket.gethostname(), "Server name shown to clients."],
    ]


def makeService(
    options: Options, reactor: IReactorCore | None = None, announce_to: TextIO | None = None
) -> IService:
    """Build the server's services from parsed ``options``."""
    if reactor is None:
        from twisted.internet import reactor as global_reactor

        reactor = global_reactor  # type: ignore[assignment]
    top = MultiService()
    chat = ChatServer(
        reactor,  # type: ignore[arg-type]
        exit_code=new_exit_code(),
        idle_timeout=options["idle-timeout"],
        on_exit=reactor.stop,  # type: ignore[union-attr]
    )
    native = NativeFactory(chat, options["name"])
    listeners: list[tuple[str, TrackingFactory, str]] = [(options["port"], native, "GloziChat native protocol")]
    if options["irc-port"].lower() != DISABLED:
        irc = IRCFactory(chat, options["name"], reactor)  # type: ignore[arg-type]
        listeners.append((options["irc-port"], irc, "GloziChat IRC"))
    factories = [factory for _, factory, _ in listeners]
    ChatService(chat, factories, options["exit-code-file"], reactor, announce_to).setServiceParent(top)  # type: ignore[arg-type]
    for description, factory, label in listeners:
        ListeningService(serverFromString(reactor, description), factory, label).setServiceParent(top)
    return top
