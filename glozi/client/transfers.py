"""Files over the server's web port (docs/files.md), with no Tk in it.

``WebFiles`` uploads a file (``PUT /upload`` with an upload token), downloads
one to disk and fetches a small one (a thumbnail, an image to show) into
memory, each with Twisted's ``Agent`` on the reactor: nothing blocks, and
the bytes are read from and written to disk a piece at a time, never whole
in memory. Each call returns a Deferred; cancelling it closes the HTTP
connection (the server then removes a partial upload), and a partial
download is removed. Progress is reported as bytes done so far.
"""

import json
import os
from collections.abc import Callable
from typing import IO, Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import Agent, FileBodyProducer, ResponseDone
from twisted.web.http_headers import Headers
from twisted.web.iweb import IResponse

READ_PIECE_BYTES = 64 * 1024
"""What is read from the file and handed to the connection at a time."""
MAX_REFUSAL_BYTES = 16 * 1024
"""The most of a refusal's JSON body read: the server's are a few hundred bytes."""
PARTIAL_SUFFIX = ".part"
"""A download is written beside its target under this suffix, and renamed once complete."""

Progress = Callable[[int], None]
_RESPONSE_DONE = Failure(ResponseDone())


class TransferFailed(Exception):
    """The server refused the transfer (``code``, ``message`` from its JSON answer), or the
    connection failed (``code`` ``connection``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TooLarge(Exception):
    """A fetched body was longer than the caller's limit."""


def web_base(host: str, port: int, tls: bool) -> str:
    """The web port's address as a URL prefix (``http://10.0.0.5:8080``), an IPv6 host in brackets."""
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


class _CountingFile:
    """A file that reports how many bytes were read from it (what went to the connection)."""

    def __init__(self, file: IO[bytes], progress: Progress) -> None:
        self._file = file
        self._progress = progress
        self._done = 0

    def read(self, size: int) -> bytes:
        data = self._file.read(size)
        self._done += len(data)
        if data:
            self._progress(self._done)
        return data

    def seek(self, *args: Any) -> int:
        return self._file.seek(*args)

    def tell(self) -> int:
        return self._file.tell()

    def close(self) -> None:
        self._file.close()


class _Collect(Protocol):
    """Reads a response body: into memory up to ``limit`` bytes, or into ``sink`` when given."""

    def __init__(self, limit: int, progress: Progress | None = None, sink: IO[bytes] | None = None) -> None:
        self.finished: Deferred[bytes] = Deferred()
        self._limit = limit
        self._progress = progress
        self._sink = sink
        self._pieces: list[bytes] = []
        self._done = 0

    def dataReceived(self, data: bytes) -> None:
        if self.finished.called:
            return
        self._done += len(data)
        if self._done > self._limit:
            self.finished.errback(TooLarge(f"more than {self._limit} bytes"))
            self.transport.stopProducing()
            return
        if self._sink is not None:
            self._sink.write(data)
        else:
            self._pieces.append(data)
        if self._progress is not None:
            self._progress(self._done)

    def connectionLost(self, reason: Failure = _RESPONSE_DONE) -> None:
        if self.finished.called:
            return
        if reason.check(ResponseDone):
            self.finished.callback(b"".join(self._pieces))
        else:
            self.finished.errback(reason)

    def stop(self) -> None:
        """Stop reading (cancelled): the connection closes."""
        if self.transport is not None:
            self.transport.stopProducing()


def _read_body(
    response: IResponse, limit: int, progress: Progress | None = None, sink: IO[bytes] | None = None
) -> "Deferred[bytes]":
    collect = _Collect(limit, progress, sink)
    response.deliverBody(collect)

    def cancelled(_: Deferred[bytes]) -> None:
        collect.stop()

    # Cancelling the caller's Deferred stops the reading and closes the connection.
    reading: Deferred[bytes] = Deferred(cancelled)

    def forward(result: "bytes | Failure") -> None:
        # Cancelled, ``reading`` already failed; the connection's end that follows is no news.
        if not reading.called:
            reading.errback(result) if isinstance(result, Failure) else reading.callback(result)

    collect.finished.addBoth(forward)
    return reading


def _refusal(response: IResponse) -> "Deferred[Any]":
    """A non-2xx answer as ``TransferFailed`` with the server's code and message."""

    def read(body: bytes) -> None:
        try:
            answer = json.loads(body)
            code, message = str(answer["code"]), str(answer["message"])
        except (ValueError, KeyError, TypeError):
            code, message = f"http_{response.code}", f"The server answered {response.code}."
        raise TransferFailed(code, message)

    def unreadable(reason: Failure) -> None:
        raise TransferFailed(f"http_{response.code}", f"The server answered {response.code}.")

    return _read_body(response, MAX_REFUSAL_BYTES).addCallbacks(read, unreadable)


def _cancellable(work: "Deferred[Any]") -> "Deferred[Any]":
    """``work`` as the caller sees it: cancelling closes the connection and fails with
    ``CancelledError``; a failure that is neither the server's refusal nor a cancel is
    ``TransferFailed("connection", ...)``."""
    cancelled: list[bool] = []

    def cancel(_: Deferred[Any]) -> None:
        cancelled.append(True)
        work.cancel()

    outcome: Deferred[Any] = Deferred(cancel)

    def failed(reason: Failure) -> None:
        if outcome.called:
            return
        if cancelled or reason.check(CancelledError):
            outcome.errback(CancelledError())
        elif reason.check(TransferFailed, TooLarge):
            outcome.errback(reason)
        else:
            why = reason.getErrorMessage() or reason.type.__name__
            outcome.errback(TransferFailed("connection", f"The transfer failed: {why}."))

    def done(result: object) -> None:
        if not outcome.called:
            outcome.callback(result)

    work.addCallbacks(done, failed)
    return outcome


class WebFiles:
    """The server's web port at ``base`` (``web_base``): uploads and downloads."""

    def __init__(self, reactor: IReactorTime, base: str, agent: Any = None) -> None:
        self._reactor = reactor
        self.base = base
        self._agent = agent if agent is not None else Agent(reactor)  # type: ignore[arg-type]

    def _get(self, path: str, token: str) -> "Deferred[IResponse]":
        headers = Headers({b"Authorization": [f"Bearer {token}".encode()]})
        return self._agent.request(b"GET", (self.base + path).encode(), headers)

    def upload(
        self, token: str, path: str, progress: Progress, where: str = "/upload"
    ) -> "Deferred[dict[str, Any]]":
        """``PUT`` the file at ``path`` to ``where`` (the ``upload_ready``'s ``path``) with upload
        token ``token``; fires with the server's 201 answer (``msgid``, ``ts``, ``file``), or fails
        with ``TransferFailed``. ``progress`` gets the bytes sent so far. Cancelling closes the
        connection."""
        source = open(path, "rb")  # noqa: SIM115 (closed when the upload ends, however it ends)
        producer = FileBodyProducer(_CountingFile(source, progress), readSize=READ_PIECE_BYTES)  # type: ignore[arg-type]
        headers = Headers({b"Authorization": [f"Bearer {token}".encode()]})
        sending = self._agent.request(b"PUT", (self.base + where).encode(), headers, producer)

        def answered(response: IResponse) -> "Deferred[Any]":
            if response.code != 201:
                return _refusal(response)
            return _read_body(response, MAX_REFUSAL_BYTES).addCallback(json.loads)

        def ended(result: object) -> object:
            source.close()
            return result

        return _cancellable(sending.addCallback(answered).addBoth(ended))

    def download(self, path: str, token: str, target: str, progress: Progress, limit: int) -> "Deferred[str]":
        """``GET`` the file at ``path`` into ``target`` (written as ``target.part``, renamed when
        complete, removed when not); fires with ``target``. At most ``limit`` bytes are taken.
        Fails with ``TransferFailed``; cancelling closes the connection."""
        partial = target + PARTIAL_SUFFIX
        sink: list[IO[bytes]] = []

        def answered(response: IResponse) -> "Deferred[Any]":
            if response.code != 200:
                return _refusal(response)
            sink.append(open(partial, "wb"))  # noqa: SIM115 (closed when the body ends)
            return _read_body(response, limit, progress, sink[0])

        def complete(_: bytes) -> str:
            sink[0].close()
            os.replace(partial, target)
            return target

        def failed(reason: Failure) -> Failure:
            if sink:
                sink[0].close()
                if os.path.exists(partial):
                    os.remove(partial)
            return reason

        getting = self._get(path, token).addCallback(answered)
        return _cancellable(getting.addCallbacks(complete, failed))

    def fetch(self, path: str, token: str, limit: int) -> "Deferred[bytes]":
        """``GET`` the small file at ``path`` (a thumbnail, an image to show) into memory, at
        most ``limit`` bytes; fails with ``TransferFailed``."""

        def answered(response: IResponse) -> "Deferred[Any]":
            if response.code != 200:
                return _refusal(response)
            return _read_body(response, limit)

        return _cancellable(self._get(path, token).addCallback(answered))
