"""Services that run a ChatServer inside twistd."""

import os
import socket
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import Service
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.logger import Logger

from glozi.discovery.interfaces import up_interfaces
from glozi.discovery.nodes import browser_url
from glozi.domain.chat import ChatServer
from glozi.doors.tracking import TrackingFactory
from glozi.process.memory import tune_garbage_collector

SHUTDOWN_GRACE_SECONDS = 5.0


def write_secret_file(path: str, content: str) -> None:
    """Write ``content`` to ``path`` readable and writable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        # The file may have existed with wider permissions before.
        os.fchmod(fd, 0o600)
        os.write(fd, content.encode())
    finally:
        os.close(fd)


class ChatService(Service):
    """Owns the ChatServer's lifetime: announces the exit code at start, and at
    stop tells every client the server is closing and waits for them to go."""

    log = Logger()

    def __init__(
        self,
        chat: ChatServer,
        factories: Sequence[TrackingFactory],
        exit_code_file: str,
        clock: IReactorTime,
        announce_to: TextIO | None = None,
        tune_memory: bool = False,
    ) -> None:
        self.tune_memory = tune_memory
        self.announce_to = announce_to
        self.chat = chat
        self.factories = factories
        self.exit_code_file = exit_code_file
        self.clock = clock

    def startService(self) -> None:
        super().startService()
        if self.tune_memory:
            # Everything start-up built is in place by now.
            tune_garbage_collector()
        code = self.chat.exit_guard.code
        write_secret_file(self.exit_code_file, code + "\n")
        # The one documented line on stdout, written past twistd's capture of
        # sys.stdout into the log so that it reads exactly "exit code: NNNNN".
        print(f"exit code: {code}", file=self.announce_to or sys.__stdout__, flush=True)
        self.log.info(
            "Server exit code: {code} (also in {path}, readable by its owner only)",
            code=code,
            path=os.path.abspath(self.exit_code_file),
        )

    def stopService(self) -> "Deferred[None]":
        super().stopService()
        if not self.chat.closing:
            self.chat.shutdown("The server is shutting down.")
        try:
            os.remove(self.exit_code_file)
        except FileNotFoundError:
            pass
        waiting = gatherResults([f.when_all_closed() for f in self.factories]).addCallback(lambda _: None)
        timeout = self.clock.callLater(SHUTDOWN_GRACE_SECONDS, self._abort_stragglers)
        waiting.addBoth(lambda result: timeout.cancel() if timeout.active() else None)
        # Everyone is gone, so nothing more is written: commit the queue and close.
        return waiting.addCallback(lambda _: self.chat.store.close())

    def _abort_stragglers(self) -> None:
        for factory in self.factories:
            factory.abort_all()


class ListeningService(StreamServerEndpointService):
    """Listens on an endpoint and logs the address it got (useful with port 0)."""

    log = Logger()

    def __init__(self, endpoint: Any, factory: Any, label: str) -> None:
        super().__init__(endpoint, factory)
        self.label = label
        # Like twistd's own strports services: a port we cannot listen on is a
        # start-up error, not a log line.
        self._raiseSynchronously = True

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        self._waitingForPort.addCallback(self._listening)

    def _listening(self, port: IListeningPort) -> IListeningPort:
        address = port.getHost()
        self.log.info(
            "{label} listening on {host}:{port}",
            label=self.label,
            host=getattr(address, "host", address),
            port=getattr(address, "port", ""),
        )
        return port


class WebAddress:
    """The browser client's URL once the web door listens (``""`` before):
    the IRC door links shared files to it."""

    url = ""

    def base(self) -> str:
        """The URL without its last ``/``: ``http://HOST:PORT``."""
        return self.url.removesuffix("/")


class WebListeningService(ListeningService):
    """The web door's listener: it also logs the browser client's URL,
    ``web client: http://HOST:PORT/``, with a LAN address when bound to all,
    and keeps it in ``address``."""

    def __init__(self, endpoint: Any, factory: Any, label: str, *, tls: bool, address: WebAddress | None = None) -> None:
        super().__init__(endpoint, factory, label)
        self.tls = tls
        self.address = address if address is not None else WebAddress()

    def _listening(self, port: IListeningPort) -> IListeningPort:
        super()._listening(port)
        address = port.getHost()
        url = web_url(getattr(address, "host", ""), getattr(address, "port", 0), self.tls)
        self.address.url = url
        self.log.info("web client: {url}", url=url)
        return port


def web_url(bound_host: str, port: int, tls: bool) -> str:
    """The URL a browser on the LAN opens: the bound address, or for a
    wildcard bind this host's first LAN address (else its name)."""
    host = bound_host
    if host in ("0.0.0.0", "::", ""):
        lan = [entry for entry in up_interfaces() if not entry.loopback]
        host = str(lan[0].address) if lan else socket.gethostname()
    return browser_url(host, port, tls)
