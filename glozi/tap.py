"""twistd wiring: ``twistd [-n] glozichat [options]``."""

import socket
from typing import ClassVar, TextIO

from twisted.application.service import IService, MultiService
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IReactorCore
from twisted.python import usage

from glozi.chat import DEFAULT_IDLE_TIMEOUT, ChatServer
from glozi.discovery.options import DiscoveryOptions
from glozi.discovery.service import PortRecordingEndpoint, make_discovery_service
from glozi.exitcode import new_exit_code
from glozi.native.protocol import NativeFactory
from glozi.service import ChatService, ListeningService

DEFAULT_PORT = "tcp:7557"
DEFAULT_EXIT_CODE_FILE = "glozichat.exitcode"


def _positive_seconds(value: str) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise ValueError("must be a positive number of seconds")
    return seconds


class Options(DiscoveryOptions, usage.Options):
    """Command-line options of the glozichat server."""

    synopsis = "[options]"
    longdesc = "Run a GloziChat server: sessions, admins and commands over a JSON line protocol."
    optParameters: ClassVar[list[list[object]]] = [
        ["port", "p", DEFAULT_PORT, "Endpoint for the native protocol (e.g. tcp:7557, ssl:...)."],
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
    factory = NativeFactory(chat, options["name"])
    ChatService(chat, [factory], options["exit-code-file"], reactor, announce_to).setServiceParent(top)  # type: ignore[arg-type]
    endpoint = PortRecordingEndpoint(serverFromString(reactor, options["port"]))
    ListeningService(endpoint, factory, "GloziChat native protocol").setServiceParent(top)
    make_discovery_service(
        reactor,
        server_name=options["name"],
        native_port=endpoint.port_number,
        native_host=endpoint.bound_host,
        irc_port=None,
        discovery_port=options["discovery-port"],
        sniff=not options["no-sniff"],
        sniff_interfaces=options["sniff-interface"] or None,
    ).setServiceParent(top)
    return top
