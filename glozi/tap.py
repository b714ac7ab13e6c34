"""twistd wiring: ``twistd [-n] glozichat [options]``."""

import os
import shutil
import socket
import stat
import tempfile
from typing import Any, ClassVar, TextIO

from twisted.application.internet import TimerService
from twisted.application.service import IService, MultiService
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IReactorCore
from twisted.internet.protocol import Factory
from twisted.python import usage

import glozi
from glozi.cluster.node import DEFAULT_PRESENCE_TIMEOUT
from glozi.discovery.nodes import no_other_nodes
from glozi.discovery.options import DiscoveryOptions
from glozi.discovery.service import PortRecordingEndpoint, make_discovery_service
from glozi.domain.chat import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_SESSIONS_PER_USER, ChatServer
from glozi.domain.exitcode import new_exit_code
from glozi.domain.files import (
    DEFAULT_FILES_QUOTA,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_USER_QUOTA,
    SWEEP_SECONDS,
    FileSharing,
)
from glozi.domain.names import name_key
from glozi.domain.operators import OperatorAccount, Operators, parse_operator
from glozi.domain.serverpassword import SERVER_PASSWORD_RULE, ServerPassword, is_valid_server_password
from glozi.domain.sessions import DEFAULT_SCROLLBACK
from glozi.doors.irc.protocol import IRCFactory
from glozi.doors.native.protocol import NativeFactory
from glozi.doors.tracking import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_PER_SOURCE,
    ConnectionLimits,
    TrackingFactory,
)
from glozi.doors.web.connection import WebSocketFactory
from glozi.doors.web.files import FileService
from glozi.doors.web.site import make_site
from glozi.doors.writebatch import WriteBatch
from glozi.limits.flood import FLOOD_BURST, FLOOD_RATE
from glozi.limits.sendqueue import DEFAULT_SEND_QUEUE_LIMIT
from glozi.process.memory import FullCollections, MemoryReports, return_large_blocks
from glozi.process.service import ChatService, ListeningService, WebAddress, WebListeningService
from glozi.storage.blobs import Blobs
from glozi.storage.groupcommit import COMMIT_INTERVAL, GroupCommitStore
from glozi.storage.passwords import hash_password
from glozi.storage.sqlitestore import DEFAULT_DB_FILE, open_store
from glozi.storage.store import DEFAULT_RETENTION, Snapshot, is_postgres_url

DEFAULT_PORT = "tcp:7557"
DEFAULT_IRC_PORT = "tcp:6667"
DEFAULT_WEB_PORT = "tcp:8080"
DISABLED = "none"
DEFAULT_EXIT_CODE_FILE = "glozichat.exitcode"


DESCRIPTION_MAX_CHARS = 100
NODE_NAME_MAX_CHARS = 64


def _description(value: str) -> str:
    if not 1 <= len(value) <= DESCRIPTION_MAX_CHARS or not value.isprintable():
        raise ValueError(f"must be 1 to {DESCRIPTION_MAX_CHARS} printable characters")
    return value


def _database(value: str) -> str:
    """A SQLite path, or a ``postgresql://`` URL checked now: psycopg installed, the URL well formed."""
    if not is_postgres_url(value):
        return value
    try:
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise ValueError("a PostgreSQL database needs psycopg: pip install 'glozichat[cluster]'") from None
    try:
        conninfo_to_dict(value)
    except ProgrammingError as error:
        raise ValueError(f"not a PostgreSQL URL: {str(error).strip()}") from None
    return value


def _redis(value: str) -> str:
    """A ``redis://`` URL, checked now (the cluster's parts are an extra: imported only here)."""
    try:
        from glozi.fanout.bus import parse_redis_url
    except ImportError:
        raise ValueError("a cluster needs txredisapi and psycopg: pip install 'glozichat[cluster]'") from None
    parse_redis_url(value)
    return value


def _node_name(value: str) -> str:
    if not 1 <= len(value) <= NODE_NAME_MAX_CHARS or not value.isprintable() or " " in value:
        raise ValueError(f"must be 1 to {NODE_NAME_MAX_CHARS} printable characters, no spaces")
    return value


def _open_store(db: str, reactor: object, *, history_limit: int, retention: int) -> tuple[GroupCommitStore, Snapshot]:
    if is_postgres_url(db):
        # psycopg is an extra ([cluster]): imported only by a server that asks for PostgreSQL.
        from glozi.storage import pgstore

        return pgstore.open_store(db, reactor, history_limit=history_limit, name_key=name_key, retention=retention)
    return open_store(db, reactor, history_limit=history_limit, retention=retention)


def _no_port() -> int | None:
    return None


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a positive whole number")
    return number


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be a whole number, 0 or more")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not 0 < number < float("inf"):
        raise ValueError("must be a positive number")
    return number


def _positive_seconds(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds < float("inf"):
        raise ValueError("must be a positive number of seconds")
    return seconds


def _private_lines(path: str, option: str) -> list[str]:
    """The lines of a secrets file, refused (``UsageError``) unless only its owner may read it."""
    try:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise usage.UsageError(
                f"{option} {path}: other users may read it (mode {stat.S_IMODE(mode):04o}); chmod 600 it"
            )
        with open(path, encoding="utf-8") as lines:
            return lines.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise usage.UsageError(f"{option} {path}: {getattr(error, 'strerror', None) or error}") from None


class Options(DiscoveryOptions, usage.Options):
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
            "web-port",
            None,
            DEFAULT_WEB_PORT,
            f"Endpoint for the browser client, HTTP and WebSocket (e.g. tcp:8080, ssl:...), or {DISABLED!r} for none.",
        ],
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
        ["description", None, glozi.DESCRIPTION, "One line about the server (IRC LINKS and INFO, the native welcome).", _description],
        ["max-connections", None, DEFAULT_MAX_CONNECTIONS, "Connections allowed in all.", _positive_int],
        ["max-per-source", None, DEFAULT_MAX_PER_SOURCE, "Connections allowed from one address.", _positive_int],
        [
            "max-sessions-per-user",
            None,
            DEFAULT_MAX_SESSIONS_PER_USER,
            "Sessions one connection may be in at once (IRC's CHANLIMIT).",
            _positive_int,
        ],
        ["flood-burst", None, FLOOD_BURST, "Lines a connection may send at once.", _positive_float],
        ["flood-rate", None, FLOOD_RATE, "Lines a second a connection may send after its burst.", _positive_float],
        [
            "db",
            None,
            DEFAULT_DB_FILE,
            "SQLite file (':memory:' for none) or postgresql:// URL keeping sessions and history across restarts.",
            _database,
        ],
        [
            "scrollback",
            None,
            DEFAULT_SCROLLBACK,
            "Messages of history a member gets on joining (0: none).",
            _count,
        ],
        ["redis", None, None, "Join a cluster through this Redis, redis://HOST:PORT[/DB] (needs --db postgresql://...).", _redis],
        ["node", None, None, "This node's name in the cluster (default: host name and native port).", _node_name],
        [
            "presence-timeout",
            None,
            DEFAULT_PRESENCE_TIMEOUT,
            "Seconds a cluster node's heartbeat lives: a node silent that long is gone.",
            _positive_seconds,
        ],
        ["retention", None, DEFAULT_RETENTION, "Messages kept per session; older ones are deleted.", _positive_int],
        ["files-dir", None, None, "Where shared files are kept (default: 'files' beside the database file)."],
        ["max-file-size", None, DEFAULT_MAX_FILE_SIZE, "Bytes one shared file may have.", _positive_int],
        ["user-quota", None, DEFAULT_USER_QUOTA, "Bytes of kept files one user (address) may have shared.", _positive_int],
        ["files-quota", None, DEFAULT_FILES_QUOTA, "Bytes of kept files in all.", _positive_int],
        [
            "max-send-queue",
            None,
            DEFAULT_SEND_QUEUE_LIMIT,
            "Bytes queued for a client that stopped reading before it is dropped.",
            _positive_int,
        ],
    ]

    optFlags: ClassVar[list[list[str | None]]] = [
        ["no-builtin-sessions", None, "Start without the nine built-in sessions (avocado, kiwi, ...)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["operators"] = []
        self["password-hash"] = None

    def postOptions(self) -> None:
        if self["redis"] is not None and not is_postgres_url(self["db"]):
            raise usage.UsageError("--redis needs --db postgresql://...: the nodes of a cluster share one PostgreSQL")
        if self["redis"] is None and self["node"] is not None:
            raise usage.UsageError("--node names a node of a cluster: give --redis too")
        super().postOptions()

    def opt_password(self, password: str) -> None:
        """A password every client must give before anything else (IRC's PASS,
        the native hello's password). The command line is visible to every
        local user (ps): prefer --password-file."""
        self._set_password(password, "--password")

    def opt_password_file(self, path: str) -> None:
        """A file whose first line (blank lines and lines starting with '#'
        skipped) is the server password; readable by its owner only (mode 0600 or 0400)."""
        where = f"--password-file {path}"
        lines = [line.strip() for line in _private_lines(path, "--password-file")]
        passwords = [line for line in lines if line and not line.startswith("#")]
        if not passwords:
            raise usage.UsageError(f"{where}: it holds no password")
        self._set_password(passwords[0], where)

    def _set_password(self, password: str, where: str) -> None:
        """Check and hash the server password at once: from here on only its hash is kept."""
        if self["password-hash"] is not None:
            raise usage.UsageError(f"{where}: the server password is given twice")
        if not is_valid_server_password(password):
            raise usage.UsageError(f"{where}: the server password must be {SERVER_PASSWORD_RULE}")
        self["password-hash"] = hash_password(password)

    def opt_oper(self, spec: str) -> None:
        """A server operator as NAME:PASSWORD (repeatable). The command line is
        visible to every local user (ps): prefer --oper-file."""
        self._add_operator(spec, "--oper")

    def opt_oper_file(self, path: str) -> None:
        """A file of server operators, one NAME:PASSWORD a line ('#' starts a
        comment line); it must be readable by its owner only (mode 0600 or 0400)."""
        specs = _private_lines(path, "--oper-file")
        for number, spec in enumerate(specs, 1):
            if spec.strip() and not spec.lstrip().startswith("#"):
                self._add_operator(spec.strip(), f"--oper-file {path}, line {number}")

    def _add_operator(self, spec: str, where: str) -> None:
        """Check and hash one NAME:PASSWORD at once: from here on only its hash is kept."""
        try:
            name, password = parse_operator(spec)
        except ValueError as error:
            raise usage.UsageError(f"{where}: {error}") from None
        if any(name_key(account.name) == name_key(name) for account in self["operators"]):
            raise usage.UsageError(f"{where}: the operator {name} is given twice")
        self["operators"].append(OperatorAccount(name, hash_password(password)))


def files_directory(options: Options) -> str | None:
    """``--files-dir``, or ``files`` beside the SQLite file, or in the working
    directory for PostgreSQL; ``None`` for ``:memory:`` (a temporary one)."""
    if options["files-dir"] is not None:
        return str(options["files-dir"])
    if options["db"] == ":memory:":
        return None
    if is_postgres_url(options["db"]):
        return "files"
    return os.path.join(os.path.dirname(os.path.abspath(options["db"])), "files")


def _file_service(options: Options, chat: ChatServer, reactor: Any) -> tuple[FileService, "FileHousekeeping"]:
    """The files of docs/files.md: the rules on the chat, the directory, its clean-ups."""
    directory = files_directory(options)
    temporary = directory is None
    if directory is None:
        directory = tempfile.mkdtemp(prefix="glozichat-files-")
    blobs = Blobs(directory)
    chat.files = FileSharing(
        chat, reactor, max_file_size=options["max-file-size"], user_quota=options["user-quota"],
        files_quota=options["files-quota"], sweep=blobs.sweep,
    )  # fmt: skip
    # At start nothing is pinned or private: what no kept message names goes, leftovers too.
    chat.files.server.store.kept_files().addCallback(
        lambda kept: blobs.sweep({shared.hash for _, shared in kept}, temporary_too=True)
    )
    housekeeping = FileHousekeeping(chat.files, directory if temporary else None)
    housekeeping.clock = reactor
    return FileService(chat.files, blobs), housekeeping


class FileHousekeeping(TimerService):
    """Sweeps the files directory every minute (what the retention dropped);
    a temporary one (``--db :memory:``) is removed when the server stops."""

    def __init__(self, sharing: FileSharing, temporary: str | None) -> None:
        super().__init__(SWEEP_SECONDS, self._sweep)
        self.sharing = sharing
        self.temporary = temporary

    def _sweep(self) -> None:
        # Not waited for: a slow database read must not hold the timer (nor the shutdown).
        self.sharing.sweep()

    def stopService(self) -> "Deferred[None] | None":
        stopped = super().stopService()
        if self.temporary is not None:
            shutil.rmtree(self.temporary, ignore_errors=True)
        return stopped


def makeService(
    options: Options, reactor: IReactorCore | None = None, announce_to: TextIO | None = None
) -> IService:
    """Build the server's services from parsed ``options``.

    Given no ``reactor`` (under twistd) it also tunes the process's memory
    housekeeping (glozi/process/memory.py); tests pass their own reactor and are left alone.
    """
    whole_process = reactor is None
    if reactor is None:
        from twisted.internet import reactor as global_reactor

        reactor = global_reactor  # type: ignore[assignment]
    if whole_process:
        return_large_blocks()
    top = MultiService()
    scrollback = min(options["scrollback"], options["retention"])
    # Blocking, on purpose: the database is read before anyone is served.
    store, snapshot = _open_store(options["db"], reactor, history_limit=scrollback, retention=options["retention"])
    cluster = None
    if options["redis"] is not None:
        from glozi.process.cluster import ClusterParts

        cluster = ClusterParts(options, reactor, store)
    chat = ChatServer(
        reactor,  # type: ignore[arg-type]
        fanout=cluster.fanout if cluster is not None else None,
        exit_code=new_exit_code(),
        idle_timeout=options["idle-timeout"],
        on_exit=reactor.stop,  # type: ignore[union-attr]
        store=store,
        scrollback=scrollback,
        max_sessions_per_user=options["max-sessions-per-user"],
        builtin_sessions=not options["no-builtin-sessions"],
    )
    chat.restore(snapshot)
    operators = Operators(chat, options["operators"])
    server_password = ServerPassword(chat, options["password-hash"])
    writes = WriteBatch(reactor)
    store.answers = writes
    if cluster is None:
        # A cluster's deliveries wait for the commit; a server alone's do not.
        store.commit_interval = COMMIT_INTERVAL
    # The other nodes the welcome and discovery answers list (docs/protocol.md): none for a server alone.
    other_nodes = cluster.other_nodes if cluster is not None else no_other_nodes
    limits = ConnectionLimits(
        max_connections=options["max-connections"],
        max_per_source=options["max-per-source"],
        max_send_queue=options["max-send-queue"],
        flood_burst=options["flood-burst"],
        flood_rate=options["flood-rate"],
    )
    web_endpoint: PortRecordingEndpoint | None = None
    if options["web-port"].lower() != DISABLED:
        web_endpoint = PortRecordingEndpoint(serverFromString(reactor, options["web-port"]))
    web_tls = options["web-port"].lower().startswith("ssl:")
    web_port = web_endpoint.port_number if web_endpoint is not None else _no_port
    native_arguments = {
        "limits": limits,
        "writes": writes,
        "operators": operators,
        "description": options["description"],
        "server_password": server_password,
        "nodes": other_nodes,
        "web_port": web_port,
        "web_tls": web_tls,
    }
    native = NativeFactory(chat, options["name"], **native_arguments)  # type: ignore[arg-type]
    native_endpoint = PortRecordingEndpoint(serverFromString(reactor, options["port"]))
    listeners: list[tuple[PortRecordingEndpoint, Factory, str]] = [
        (native_endpoint, native, "GloziChat native protocol")
    ]
    tracked: list[TrackingFactory] = [native]
    web_address = WebAddress()
    housekeeping: FileHousekeeping | None = None
    irc_endpoint: PortRecordingEndpoint | None = None
    if options["irc-port"].lower() != DISABLED:
        irc = IRCFactory(  # type: ignore[arg-type]
            chat,
            options["name"],
            reactor,
            limits=limits,
            writes=writes,
            operators=operators,
            description=options["description"],
            server_password=server_password,
            web=web_address.base,
        )
        irc_endpoint = PortRecordingEndpoint(serverFromString(reactor, options["irc-port"]))
        listeners.append((irc_endpoint, irc, "GloziChat IRC"))
        tracked.append(irc)
    if web_endpoint is not None:
        websockets = WebSocketFactory(chat, options["name"], **native_arguments)  # type: ignore[arg-type]
        sharing = None
        if cluster is None:
            sharing, housekeeping = _file_service(options, chat, reactor)
        listeners.append((web_endpoint, make_site(websockets, sharing=sharing), "GloziChat web"))
        tracked.append(websockets)
    ChatService(chat, tracked, options["exit-code-file"], reactor, announce_to, whole_process).setServiceParent(top)  # type: ignore[arg-type]
    listening = [ListeningService(endpoint, factory, label) for endpoint, factory, label in listeners]
    if web_endpoint is not None:
        listening[-1] = WebListeningService(
            web_endpoint, listeners[-1][1], "GloziChat web", tls=web_tls, address=web_address
        )
    if cluster is None:
        for service in listening:
            service.setServiceParent(top)
    else:
        # A node listens once it holds the cluster's state; it stops before the chat does.
        cluster.node_service(chat, listening, native_endpoint, irc_endpoint, writes).setServiceParent(top)
    make_discovery_service(
        reactor,
        server_name=options["name"],
        native_port=native_endpoint.port_number,
        native_host=native_endpoint.bound_host,
        native_tls=options["port"].lower().startswith("ssl:"),
        password_required=server_password.required,
        irc_port=irc_endpoint.port_number if irc_endpoint is not None else None,
        web_port=web_port,
        web_tls=web_tls,
        discovery_port=options["discovery-port"],
        sniff=not options["no-sniff"],
        sniff_interfaces=options["sniff-interface"] or None,
        nodes=other_nodes,
    ).setServiceParent(top)
    if housekeeping is not None:
        housekeeping.setServiceParent(top)
    if whole_process:
        FullCollections(reactor).setServiceParent(top)  # type: ignore[arg-type]
        MemoryReports(reactor).setServiceParent(top)  # type: ignore[arg-type]
    return top
