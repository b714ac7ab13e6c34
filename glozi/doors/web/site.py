"""The web door's HTTP side: the page, its files, and the upgrade to a WebSocket.

``GET /`` is the page (``glozi/webclient/index.html``), ``GET /static/NAME``
one of its files, and ``GET /ws`` the WebSocket (``connection.py``), accepted
only from this page itself (the ``Origin`` check). Every answer carries the
security headers of docs/security.md and none sets a cookie.
"""

import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

from twisted.internet.interfaces import IProtocolFactory
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.web import http, server
from twisted.web.resource import Resource

from glozi.domain.files import UploadGrant
from glozi.doors.native.wire import file_fields
from glozi.doors.tracking import TrackingFactory, refusal_reason, source_of
from glozi.doors.web.files import FileService, answer_upload, error_body, refuse, status_of
from glozi.doors.web.frames import accept_key, is_valid_key

WEBCLIENT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "webclient")
"""Where the page's files are: ``glozi/webclient/``."""

HTTP_TIMEOUT_SECONDS = 30.0
"""An HTTP connection that sends nothing for this long is closed (a WebSocket is not, after its upgrade)."""
MAX_REQUEST_BODY_BYTES = 0
"""The page only reads (GET, HEAD): a request with a body is refused with 413."""

CONTENT_SECURITY_POLICY = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
    b" object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
)
SECURITY_HEADERS: Sequence[tuple[bytes, bytes]] = (
    (b"Content-Security-Policy", CONTENT_SECURITY_POLICY),
    (b"X-Frame-Options", b"DENY"),
    (b"X-Content-Type-Options", b"nosniff"),
    (b"Referrer-Policy", b"no-referrer"),
    (b"Cache-Control", b"no-cache"),
)
"""On every HTTP answer (docs/security.md)."""

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
"""Content-Type by file extension; any other file is ``application/octet-stream``."""

UPGRADE_REQUIRED = 426
_DEFAULT_PORTS = {b"http": b":80", b"https": b":443"}


def _without_default_port(origin: bytes, scheme: bytes) -> bytes:
    origin = origin.lower()
    return origin.removesuffix(_DEFAULT_PORTS[scheme])


def is_own_origin(request: server.Request) -> bool:
    """Whether the request's one ``Origin`` is its own scheme and ``Host``: this page."""
    origins = request.requestHeaders.getRawHeaders(b"origin")
    host = request.getHeader(b"host")
    if not origins or len(origins) != 1 or not host:
        return False
    scheme = b"https" if request.isSecure() else b"http"
    return _without_default_port(origins[0], scheme) == _without_default_port(scheme + b"://" + host, scheme)


def file_in(directory: str, segments: Sequence[bytes]) -> str | None:
    """The regular file at ``segments`` under ``directory``, or ``None``: no
    hidden names, no ``..``, no directory itself, nothing outside ``directory``."""
    names = []
    for segment in segments:
        try:
            name = segment.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if not name or name.startswith(".") or "/" in name or "\\" in name or "\x00" in name:
            return None
        names.append(name)
    if not names:
        return None
    path = os.path.join(directory, *names)
    real_directory = os.path.realpath(directory)
    if not os.path.realpath(path).startswith(real_directory + os.sep) or not os.path.isfile(path):
        return None
    return path


def _plain(request: server.Request, code: int, text: str) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    return text.encode("utf-8")


def _tokens(request: server.Request, header: bytes) -> set[bytes]:
    """The comma-separated tokens of every ``header`` line, lower case."""
    values = request.requestHeaders.getRawHeaders(header) or []
    return {token.strip().lower() for value in values for token in value.split(b",")}


class WebRoot(Resource):
    """Routes ``/``, ``/static/...`` and ``/ws``; anything else is 404."""

    isLeaf = True
    log = Logger()
    http_connections: "HTTPConnectionLimits | None" = None
    """Counts the HTTP connections; an upgraded one leaves its count."""

    def __init__(
        self, websockets: IProtocolFactory, files: str = WEBCLIENT_DIR, sharing: FileService | None = None
    ) -> None:
        super().__init__()
        self.websockets = websockets
        self.files = files
        self.sharing = sharing

    def render_GET(self, request: server.Request) -> bytes | int:
        path = request.postpath
        if path == [b""]:
            return self._file(request, [b"index.html"])
        if path[0] == b"static" and len(path) > 1:
            return self._file(request, path[1:])
        if path == [b"ws"]:
            return self._upgrade(request)
        if path[0] in (b"files", b"thumbnails") and self.sharing is not None:
            return self.sharing.serve(request, path)
        if path == [b"upload"] and self.sharing is not None:
            return refuse(request, "bad_method", "Upload with PUT.")
        return _plain(request, http.NOT_FOUND, "Not found.\n")

    def render_PUT(self, request: server.Request) -> bytes | int:
        grant = getattr(request, "grant", None)
        if grant is None or self.sharing is None:
            return _plain(request, http.NOT_FOUND, "Not found.\n")
        upload = request.content
        if upload.size != grant.size:
            upload.discard()
            self.sharing.sharing.abandon(grant)
            return refuse(request, "incomplete", "The body ended before its Content-Length.")
        request.upload_done = True
        answer_upload(request, self.sharing.finish_upload(grant, upload), file_fields)
        return server.NOT_DONE_YET

    def render_HEAD(self, request: server.Request) -> bytes | int:
        if request.postpath == [b"ws"]:
            return _plain(request, http.BAD_REQUEST, "A WebSocket is opened with GET.\n")
        return self.render_GET(request)

    def _file(self, request: server.Request, segments: Sequence[bytes]) -> bytes | int:
        path = file_in(self.files, segments)
        if path is None:
            return _plain(request, http.NOT_FOUND, "Not found.\n")
        try:
            # The page's files are small: read whole, at once, with no producer to outlive the request.
            with open(path, "rb") as file:
                content = file.read()
        except OSError:
            return _plain(request, http.NOT_FOUND, "Not found.\n")
        # The type is ours alone, never guessed from the host's mime.types.
        content_type = CONTENT_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")
        request.setHeader(b"content-type", content_type.encode())
        return content

    def _upgrade(self, request: server.Request) -> bytes | int:
        """Switch this HTTP connection to a WebSocket (RFC 6455, 4.2) for the
        native protocol, or refuse with an HTTP error."""
        if not is_own_origin(request):
            self.log.info(
                "Refused a WebSocket from {peer}: Origin {origin!r} is not this page",
                peer=request.getClientAddress(),
                origin=request.getHeader(b"origin"),
            )
            return _plain(request, http.FORBIDDEN, "This WebSocket serves this server's own page only (Origin).\n")
        key = request.getHeader(b"sec-websocket-key")
        if request.getHeader(b"sec-websocket-version") != b"13":
            request.setHeader(b"sec-websocket-version", b"13")
            return _plain(request, UPGRADE_REQUIRED, "This server speaks WebSocket version 13.\n")
        if (
            request.clientproto != b"HTTP/1.1"
            or b"websocket" not in _tokens(request, b"upgrade")
            or b"upgrade" not in _tokens(request, b"connection")
            or key is None
            or not is_valid_key(key)
        ):
            return _plain(request, http.BAD_REQUEST, "Not a WebSocket opening handshake (RFC 6455).\n")
        channel: Any = request.channel
        transport = channel.transport
        headers = [
            b"HTTP/1.1 101 Switching Protocols",
            b"Upgrade: websocket",
            b"Connection: Upgrade",
            b"Sec-WebSocket-Accept: " + accept_key(key),
            *(name + b": " + value for name, value in SECURITY_HEADERS),
        ]
        transport.write(b"\r\n".join(headers) + b"\r\n\r\n")
        # The HTTP channel no longer reads requests here; the connection
        # registers its own producer, which bounds its send queue.
        transport.unregisterProducer()
        if self.http_connections is not None:
            self.http_connections.stop_counting(transport)
        connection = self.websockets.buildProtocol(request.getClientAddress())
        # Twisted's own WebSocket resource hands the connection over the same way.
        channel._protocolUpgradeForWebsockets(connection)
        return server.NOT_DONE_YET


class WebRequest(server.Request):
    """A request whose every answer carries the security headers, and that has
    no body, but an upload (``PUT /upload``, docs/files.md)."""

    _refused = False
    grant: UploadGrant | None = None
    upload_done = False

    def process(self) -> None:
        for name, value in SECURITY_HEADERS:
            self.setHeader(name, value)
        super().process()

    def gotLength(self, length: int | None) -> None:
        channel: Any = self.channel
        sharing: FileService | None = channel.site.resource.sharing
        if sharing is not None and channel._command == b"PUT" and channel._path.split(b"?")[0] == b"/upload":
            verdict = sharing.begin_upload(self, length)
            if isinstance(verdict, UploadGrant):
                self.grant = verdict
                self.content = sharing.blobs.new_upload()
                return
            code, message = verdict
            self._refuse(f"{status_of(code)} {http.RESPONSES.get(status_of(code), b'').decode()}", error_body(code, message))
            super().gotLength(0)
            return
        if length is None or length > MAX_REQUEST_BODY_BYTES:
            self._refuse("413 Content Too Large", b"")
        super().gotLength(0)

    def _refuse(self, status: str, body: bytes) -> None:
        """Answer now, read no body, and close the connection."""
        self._refused = True
        # No 100 Continue after a refusal: the body is not wanted.
        self.requestHeaders.removeHeader(b"expect")
        headers = [b"HTTP/1.1 " + status.encode("ascii"), *(name + b": " + value for name, value in SECURITY_HEADERS)]
        if body:
            headers.append(b"Content-Type: application/json")
        headers += [b"Content-Length: " + str(len(body)).encode("ascii"), b"Connection: close"]
        self.channel.transport.write(b"\r\n".join(headers) + b"\r\n\r\n" + body)
        self.channel.transport.loseConnection()

    def connectionLost(self, reason: Any) -> None:
        grant = self.grant
        if grant is not None and not self.upload_done:
            # Cancelled: the partial file goes and nothing is announced.
            self.content.discard()
            channel: Any = self.channel
            channel.site.resource.sharing.sharing.abandon(grant)
            self.upload_done = True
        super().connectionLost(reason)

    def handleContentChunk(self, data: bytes) -> None:
        if not self._refused:
            super().handleContentChunk(data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if not self._refused:
            super().requestReceived(command, path, version)


class _Unavailable(Protocol):
    """Answers a connection over the limits with 503 and closes it."""

    def __init__(self, message: str) -> None:
        self.message = message

    def connectionMade(self) -> None:
        body = self.message.encode("utf-8") + b"\n"
        headers = [
            b"HTTP/1.1 503 Service Unavailable",
            *(name + b": " + value for name, value in SECURITY_HEADERS),
            b"Content-Type: text/plain; charset=utf-8",
            b"Content-Length: %d" % len(body),
            b"Connection: close",
        ]
        self.transport.write(b"\r\n".join(headers) + b"\r\n\r\n" + body)
        self.transport.loseConnection()


class HTTPConnectionLimits(WrappingFactory):
    """The web door's HTTP connections, bounded as each door bounds its own:
    at most ``max_connections`` in all and ``max_per_source`` from one
    address; past them a connection is answered 503 and closed.

    A connection upgraded to a WebSocket stops counting here
    (``stop_counting``): from then on the WebSocket factory counts it, and
    refuses it as the native door refuses one.
    """

    protocol = ProtocolWrapper
    log = Logger()

    def __init__(self, site: server.Site, max_connections: int, max_per_source: int) -> None:
        super().__init__(site)
        self.max_connections = max_connections
        self.max_per_source = max_per_source
        self._counted: dict[Any, str] = {}
        self._per_source: Counter[str] = Counter()

    def buildProtocol(self, addr: Any) -> Any:
        source = source_of(addr)
        message = refusal_reason(
            len(self._counted), self._per_source[source], source, self.max_connections, self.max_per_source
        )
        if message is None:
            return super().buildProtocol(addr)
        self.log.warn("Refused an HTTP connection from {source}: {message}", source=source, message=message)
        return _Unavailable(message)

    def registerProtocol(self, p: Any) -> None:
        super().registerProtocol(p)
        source = source_of(p.getPeer())
        self._counted[p] = source
        self._per_source[source] += 1

    def unregisterProtocol(self, p: Any) -> None:
        super().unregisterProtocol(p)
        self.stop_counting(p)

    def stop_counting(self, connection: Any) -> None:
        """``connection`` (a transport this factory made) no longer counts as an HTTP connection."""
        source = self._counted.pop(connection, None)
        if source is None:
            return
        self._per_source[source] -= 1
        if self._per_source[source] <= 0:
            del self._per_source[source]


def make_site(
    websockets: TrackingFactory, files: str = WEBCLIENT_DIR, reactor: Any = None, sharing: FileService | None = None
) -> HTTPConnectionLimits:
    """The factory the web door listens with: ``WebRoot`` in a ``Site`` with
    short timeouts and the security headers, its HTTP connections bounded by
    the same ``--max-connections`` and ``--max-per-source`` as ``websockets``;
    with ``sharing``, the file transfers of docs/files.md too.

    ``reactor`` runs the HTTP timeouts (tests pass a ``Clock``-driven one); by default the global reactor.
    """
    root = WebRoot(websockets, files, sharing)
    site = server.Site(root, timeout=HTTP_TIMEOUT_SECONDS, reactor=reactor)
    site.requestFactory = WebRequest
    site.displayTracebacks = False
    limits = HTTPConnectionLimits(site, websockets.max_connections, websockets.max_per_source)
    root.http_connections = limits
    return limits
