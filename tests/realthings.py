"""Real things for end-to-end tests: an Xvfb display, a ``twistd glozichat`` server, a PostgreSQL and a ``redis-server``.

Both are started by the test that needs them and stopped by its cleanups.
tools/screenshots.py uses the same helpers.
"""

import atexit
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from twisted.internet import reactor as global_reactor
from twisted.internet.defer import Deferred
from twisted.internet.error import ProcessDone
from twisted.internet.protocol import ProcessProtocol
from twisted.python.failure import Failure
from twisted.trial.unittest import TestCase

REPO_ROOT = Path(__file__).resolve().parent.parent
XVFB_START_TIMEOUT = 10.0
SERVER_START_TIMEOUT = 20.0
SERVER_STOP_TIMEOUT = 10.0
POSTGRES_START_TIMEOUT = 30
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
SCREEN_SIZE = "2000x900x24"

_LISTENING = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")
_EXIT_CODE = re.compile(rb"exit code: (\d{10})")
_DISCOVERY = re.compile(rb"Discovery responder listening on UDP \S*:(\d+)")


class Unavailable(Exception):
    """A program a test needs is not installed."""


def in_ci() -> bool:
    """Whether we run in CI, where a missing Xvfb is a failure, not a skip."""
    return bool(os.environ.get("CI"))


class Xvfb:
    """A private X display: ``start`` returns its name (``":N"``), ``stop`` ends it.

    Tk never closes a display it opened, and reuses it by name for every
    later ``Tk()``: a process that used Tk must keep its Xvfb to the end. With
    ``terminate`` the server exits by itself when its last client (this
    process) goes, so nothing is left behind and nothing is cut under Tk.
    """

    def __init__(self, screen: str = SCREEN_SIZE, *, terminate: bool = False) -> None:
        self.screen = screen
        self.terminate = terminate
        self.process: subprocess.Popen[bytes] | None = None
        self.display = ""

    def start(self, timeout: float = XVFB_START_TIMEOUT) -> str:
        """Start Xvfb and wait (at most ``timeout`` s) until it says which display it took."""
        program = shutil.which("Xvfb")
        if program is None:
            raise Unavailable("Xvfb is not installed (apt-get install xvfb)")
        read_end, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                [program, "-displayfd", str(write_end), "-screen", "0", self.screen, "-nolisten", "tcp"]
                + (["-terminate"] if self.terminate else []),
                pass_fds=(write_end,),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            os.close(write_end)
            write_end = -1
            number = b""
            while not number.endswith(b"\n"):
                ready, _, _ = select.select([read_end], [], [], timeout)
                chunk = os.read(read_end, 16) if ready else b""
                if not chunk:
                    self.stop()
                    raise RuntimeError("Xvfb did not report a display")
                number += chunk
        finally:
            os.close(read_end)
            if write_end >= 0:
                os.close(write_end)
        self.display = ":" + number.decode().strip()
        return self.display

    def stop(self) -> None:
        """End Xvfb (and wait for it, at most a few seconds)."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def use_display(display: str) -> Callable[[], None]:
    """Point Tk (which reads ``DISPLAY``) at ``display``; returns the undo function."""
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display

    def restore() -> None:
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous

    return restore


_shared: Xvfb | None = None
_shared_used = False


def shared_display() -> str:
    """The display of this process's one Xvfb, started on first use.

    It is started with ``-terminate``, so it ends when this process does;
    ``mark_display_used`` says Tk connected, else it is stopped at exit.
    """
    global _shared
    if _shared is None:
        xvfb = Xvfb(terminate=True)
        xvfb.start()
        _shared = xvfb
        atexit.register(_stop_unused)
    return _shared.display


def mark_display_used() -> None:
    """Tk is connected to the shared display: it will end with this process."""
    global _shared_used
    _shared_used = True


def _stop_unused() -> None:
    if _shared is not None and not _shared_used:
        _shared.stop()


class ServerProcess(ProcessProtocol):
    """A real ``twistd -n glozichat`` on 127.0.0.1, ports chosen by the system.

    ``started`` fires with this object once the server logged its TCP port
    and its discovery (UDP) port and printed its exit code; ``ended`` fires
    with the process exit status.
    """

    def __init__(self) -> None:
        self.output = bytearray()
        self.port = 0
        self.discovery_port = 0
        self.exit_code = ""
        self.status: int | None = None
        self.started: Deferred[ServerProcess] = Deferred()
        self.ended: Deferred[int | None] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.output += data
        if not self.port and (found := _LISTENING.search(self.output)):
            self.port = int(found.group(1))
        if not self.exit_code and (found := _EXIT_CODE.search(self.output)):
            self.exit_code = found.group(1).decode()
        if not self.discovery_port and (found := _DISCOVERY.search(self.output)):
            self.discovery_port = int(found.group(1))
        if self.port and self.exit_code and self.discovery_port and not self.started.called:
            self.started.callback(self)

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        self.status = 0 if reason.check(ProcessDone) else getattr(reason.value, "exitCode", None)
        if not self.started.called:
            self.started.errback(
                RuntimeError("the server ended before listening:\n" + self.output.decode(errors="replace"))
            )
        self.ended.callback(self.status)

    @property
    def running(self) -> bool:
        return self.status is None and not self.ended.called

    def stop(self) -> "Deferred[int | None]":
        """Ask the server to shut down (SIGTERM) and wait for it; kill it if it lingers."""
        if not self.running:
            return self.ended
        self.transport.signalProcess("TERM")
        killer = global_reactor.callLater(SERVER_STOP_TIMEOUT, self._kill)
        self.ended.addBoth(lambda result: (killer.active() and killer.cancel(), result)[1])
        return self.ended

    def _kill(self) -> None:
        if self.running:
            self.transport.signalProcess("KILL")


def start_server(
    workdir: str, reactor=global_reactor, extra: tuple[str, ...] = ()
) -> "Deferred[ServerProcess]":
    """Start ``twistd -n glozichat`` on 127.0.0.1 (any free port) in ``workdir``.

    Discovery answers on a free UDP port and nothing is sniffed, so parallel
    runs do not fight over port 7558. The exit code file goes into
    ``workdir``. Fails when the server does not listen within
    ``SERVER_START_TIMEOUT`` seconds.
    """
    workdir = os.path.abspath(workdir)
    server = ServerProcess()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    argv = [
        sys.executable,
        "-c",
        "from twisted.scripts.twistd import run; run()",
        "-n",
        "--pidfile=",
        "glozichat",
        "--port",
        "tcp:0:interface=127.0.0.1",
        "--exit-code-file",
        os.path.join(workdir, "exitcode"),
        "--discovery-port",
        "0",
        "--no-sniff",
        "--irc-port",
        "none",
        # Never the default 8080: tests run in parallel.
        "--web-port",
        "tcp:0:interface=127.0.0.1",
        *extra,
    ]
    reactor.spawnProcess(server, sys.executable, argv, env=env, path=workdir)
    timer = reactor.callLater(SERVER_START_TIMEOUT, server._kill)

    def cancel_timer(result: object) -> object:
        if timer.active():
            timer.cancel()
        return result

    return server.started.addBoth(cancel_timer)


class Postgres:
    """A private PostgreSQL 15 cluster: ``start`` returns its admin DSN, ``stop`` ends it and deletes its files.

    Its data directory and unix socket are in a new temporary directory, and
    it listens on 127.0.0.1 only (a free port), trusting local connections.
    PostgreSQL refuses to run as root: as root the cluster belongs to the
    ``postgres`` system user and its programs run through ``runuser``.
    ``fsync`` is off: a test cluster does not survive a power cut, and
    commits still mean committed to every connection.
    """

    def __init__(self) -> None:
        self.directory = ""
        self.port = 0

    def _run(self, *argv: str) -> None:
        as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*as_owner, *argv],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=POSTGRES_START_TIMEOUT,
        )

    def start(self) -> str:
        if not (POSTGRES_BIN / "initdb").exists():
            raise Unavailable(f"PostgreSQL 15 is not installed in {POSTGRES_BIN} (apt-get install postgresql)")
        self.directory = tempfile.mkdtemp(prefix="glozi-postgres-")
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        data = os.path.join(self.directory, "data")
        self._run(str(POSTGRES_BIN / "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.port = _free_loopback_port()
        self.resume()
        return self.dsn("postgres")

    def halt(self) -> None:
        """Stop the server (a fast shutdown: its connections are cut), keeping its data and port for ``resume``."""
        self._run(str(POSTGRES_BIN / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", os.path.join(self.directory, "data"))

    def resume(self) -> None:
        """Start the server (again) on its data directory and port; returns once it accepts connections."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off -c full_page_writes=off"
        self._run(
            str(POSTGRES_BIN / "pg_ctl"), "start", "-w", "-D", os.path.join(self.directory, "data"),
            "-l", os.path.join(self.directory, "log"), "-t", str(POSTGRES_START_TIMEOUT), "-o", options,
        )

    def dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if not self.directory:
            return
        try:
            if os.path.exists(os.path.join(self.directory, "data", "postmaster.pid")):
                self.halt()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = ""


def _free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (PostgreSQL cannot be told to take any free port itself)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_postgres: Postgres | None = None


def shared_postgres() -> Postgres:
    """This process's one PostgreSQL (starting one takes a few seconds), started on first use and stopped at exit."""
    global _postgres
    if _postgres is None:
        postgres = Postgres()
        try:
            postgres.start()
        except BaseException:
            postgres.stop()
            raise
        _postgres = postgres
        atexit.register(postgres.stop)
    return _postgres


def fresh_database(test: TestCase) -> str:
    """The URL of a new, empty database on this process's PostgreSQL, dropped at ``test``'s cleanup
    (with its connections, if a server killed mid-test left any)."""
    postgres = shared_postgres()
    name = "test_" + uuid.uuid4().hex
    _administer(postgres, f'CREATE DATABASE "{name}"')
    test.addCleanup(_administer, postgres, f'DROP DATABASE "{name}" WITH (FORCE)')
    return postgres.dsn(name)


def _administer(postgres: Postgres, statement: str) -> None:
    import psycopg  # the [cluster] extra: only the tests that start a PostgreSQL need it

    with psycopg.connect(postgres.dsn("postgres"), autocommit=True) as admin:
        admin.execute(statement)


# --- A real redis-server (cluster mode) ---------------------------------------------------------------

REDIS_START_TIMEOUT = 10.0
REDIS_STOP_TIMEOUT = 10.0
_REDIS_POLL_SECONDS = 0.02
_REDIS_PORT_ATTEMPTS = 5


def redis_command(port: int, *words: bytes, timeout: float = 2.0) -> bytes:
    """Send one command to the Redis on ``port`` and return the first line of its answer."""
    request = b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(word), word) for word in words)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(request)
        answer = b""
        while not answer.endswith(b"\r\n"):
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.strip()


class RedisServer:
    """A real ``redis-server`` on 127.0.0.1 with nothing saved to disk, in a temporary directory.

    ``start`` picks a free port the first time; ``restart`` (and ``start``
    after ``stop``) reuses it, so clients reconnect to the same address, as
    they would after a real Redis restart. ``url`` is what ``--redis`` takes.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = REDIS_START_TIMEOUT) -> "RedisServer":
        """Start Redis and wait (at most ``timeout`` s) until it answers PING."""
        program = shutil.which("redis-server")
        if program is None:
            raise Unavailable("redis-server is not installed (apt-get install redis-server)")
        os.makedirs(self.directory, exist_ok=True)
        # Another process may take a port between our probe and Redis binding it: try a few.
        attempts = 1 if self.port else _REDIS_PORT_ATTEMPTS
        for _ in range(attempts):
            port = self.port or _free_loopback_port()
            if self._launch(program, port, timeout):
                self.port = port
                return self
        raise RuntimeError(f"redis-server did not start in {self.directory}: see redis.log there")

    def _launch(self, program: str, port: int, timeout: float) -> bool:
        with open(os.path.join(self.directory, "redis.log"), "ab") as log:
            self.process = subprocess.Popen(
                [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self.directory],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        for _ in range(int(timeout / _REDIS_POLL_SECONDS)):
            if self.process.poll() is not None:
                self.process = None
                return False
            try:
                if redis_command(port, b"PING") == b"+PONG":
                    return True
            except OSError:
                pass
            time.sleep(_REDIS_POLL_SECONDS)
        self.stop()
        return False

    def stop(self) -> None:
        """End Redis (SIGTERM, then SIGKILL if it lingers) and wait for it."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.terminate()
        try:
            process.wait(timeout=REDIS_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=REDIS_STOP_TIMEOUT)

    def restart(self) -> None:
        """Stop Redis and start a fresh one (empty: nothing is saved) on the same port."""
        self.stop()
        self.start()

    def flush(self) -> None:
        """Forget every key in every database."""
        if redis_command(self.port, b"FLUSHALL") != b"+OK":
            raise RuntimeError("redis-server refused FLUSHALL")


def start_redis(directory: str) -> RedisServer:
    """A started ``RedisServer`` of its own in ``directory``: for tests that stop or restart it."""
    return RedisServer(directory).start()


_shared_redis: RedisServer | None = None


def shared_redis() -> RedisServer:
    """This test process's one Redis, started on first use and stopped at exit; flushed on each call."""
    global _shared_redis
    if _shared_redis is None or not _shared_redis.running:
        _shared_redis = start_redis(tempfile.mkdtemp(prefix="glozi-redis-"))
        atexit.register(_stop_shared_redis, _shared_redis)
    _shared_redis.flush()
    return _shared_redis


def _stop_shared_redis(server: RedisServer) -> None:
    server.stop()
    shutil.rmtree(server.directory, ignore_errors=True)
