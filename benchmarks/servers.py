"""Start and stop the servers under test: GloziChat (``twistd -n glozichat``) and ngircd.

Every server listens on 127.0.0.1 only, on a port of its own, and is killed by
``RunningServer.stop`` (SIGTERM, then SIGKILL after a grace period), or at
once by ``RunningServer.kill`` (SIGKILL, as a crash would).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NGIRCD_CONF = Path(__file__).resolve().with_name("ngircd.conf")
STARTUP_TIMEOUT = 30.0
STOP_GRACE = 10.0

# GloziChat with every limit that would throttle a load generator raised, the
# way ngircd.conf raises ngircd's. The idle timeout is longer than any run.
GLOZICHAT_LIMITS = (
    "--max-connections", "20000",
    "--max-per-source", "20000",
    "--flood-burst", "100000",
    "--flood-rate", "100000",
    "--max-send-queue", str(64 * 1024 * 1024),
    "--idle-timeout", "3600",
)  # fmt: skip
# A backlog above Twisted's default 50 so that a burst of connects is not
# dropped and retried a second later (ngircd listens with a large backlog too).
_LISTEN = "tcp:{port}:interface=127.0.0.1:backlog=1024"
_NATIVE_PORT = re.compile(r"native protocol listening on 127\.0\.0\.1:(\d+)")
_IRC_PORT = re.compile(r"IRC listening on 127\.0\.0\.1:(\d+)")
_WEB_PORT = re.compile(r"GloziChat web listening on 127\.0\.0\.1:(\d+)")
# Printed once the server is up, after its listeners.
_EXIT_CODE = re.compile(r"^exit code: (\d{10})$", re.MULTILINE)


@dataclass
class RunningServer:
    """A server process under test and the loopback ports of its doors."""

    name: str
    process: subprocess.Popen
    workdir: Path
    ports: dict[str, int] = field(default_factory=dict)
    log_path: Path | None = None
    # Where this process's output starts in ``log_path``: a restarted node appends to its log.
    log_offset: int = 0
    exit_code: str = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        """What this process has logged so far (not what an earlier process in the same log did)."""
        if self.log_path is None:
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    def stop(self) -> int | None:
        """SIGTERM, and SIGKILL if the process is still there after a grace period; its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_GRACE)
        return self.process.returncode

    def kill(self) -> int | None:
        """SIGKILL, as a crash would: no shutdown code runs; its exit status."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_GRACE)
        return self.process.returncode


def glozichat_has_irc() -> bool:
    """Whether this checkout's glozichat has an IRC door (``--irc-port``)."""
    return _glozichat_takes("--irc-port", "tcp:0:interface=127.0.0.1")


def glozichat_has_web() -> bool:
    """Whether this checkout's glozichat has a web door (``--web-port``)."""
    return _glozichat_takes("--web-port", "none")


def _glozichat_takes(*arguments: str) -> bool:
    from glozi.tap import Options

    try:
        Options().parseOptions(list(arguments))
    except Exception:  # noqa: BLE001 - usage.UsageError or anything else: not this checkout's option
        return False
    return True


def _twistd() -> list[str]:
    twistd = shutil.which("twistd")
    return [twistd] if twistd else [sys.executable, "-m", "twisted", "twistd"]


def _wait_for(check: Callable[[], bool], process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not check():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited during start-up with status {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{what} did not start within {STARTUP_TIMEOUT:.0f} s")
        time.sleep(0.05)


def start_glozichat(
    workdir: Path,
    *,
    irc: bool,
    web: bool = False,
    options: Sequence[str] = GLOZICHAT_LIMITS,
    ports: dict[str, int] | None = None,
) -> RunningServer:
    """Start ``twistd -n glozichat`` on loopback with ``options`` (the benchmark limits by default).

    It listens on ``ports`` (by door, as ``RunningServer.ports``: a restart
    takes the ports it had) or on free ones, which come from the server's own
    log, as in tests/realserver.py. The log (``glozichat.log``) and the exit
    code file are in ``workdir``; a restart appends to the log. ``web`` adds
    the web door (``ports["web"]``: HTTP and the WebSocket at ``/ws``);
    without it the server runs with ``--web-port none``.
    """
    # The server runs in workdir: a relative path would be taken from there.
    workdir = workdir.absolute()
    ports = ports or {}
    args = [
        *_twistd(), "-n", "--pidfile=", "glozichat",
        "--port", _LISTEN.format(port=ports.get("native", 0)),
        "--exit-code-file", str(workdir / "exit-code"),
        "--no-sniff", "--discovery-port", "0",
        *options,
    ]  # fmt: skip
    doors = ["native"]
    if irc:
        args += ["--irc-port", _LISTEN.format(port=ports.get("irc", 0))]
        doors.append("irc")
    if web:
        args += ["--web-port", _LISTEN.format(port=ports.get("web", 0))]
        doors.append("web")
    elif glozichat_has_web():
        # Never the default 8080: it may be taken, and nothing here measures it.
        args += ["--web-port", "none"]
    return launch_logged("glozichat", args, workdir, doors=doors)


def launch_logged(name: str, argv: list[str], workdir: Path, doors: Sequence[str]) -> RunningServer:
    """Run ``argv`` in ``workdir``, its output appended to ``glozichat.log`` there, and wait (at most
    ``STARTUP_TIMEOUT``) until it has logged the port of each of ``doors`` and its exit code."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "glozichat.log"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
    with open(log_path, "ab") as log:
        offset = log.tell()
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env)
    server = RunningServer(name, process, workdir, log_path=log_path, log_offset=offset)
    patterns = {"native": _NATIVE_PORT, "irc": _IRC_PORT, "web": _WEB_PORT}

    def ready() -> bool:
        text = server.log_text()
        for door in doors:
            if match := patterns[door].search(text):
                server.ports[door] = int(match.group(1))
        if match := _EXIT_CODE.search(text):
            server.exit_code = match.group(1)
        return len(server.ports) == len(doors) and bool(server.exit_code)

    try:
        _wait_for(ready, process, name)
    except RuntimeError:
        server.stop()
        raise
    return server


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_ngircd(workdir: Path) -> RunningServer:
    """Start ngircd in the foreground on a free loopback port, configured by ngircd.conf."""
    binary = shutil.which("ngircd") or "/usr/sbin/ngircd"
    if not os.path.exists(binary):
        raise RuntimeError("ngircd is not installed (apt-get install -y ngircd)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_loopback_port()
    motd = workdir / "motd"
    motd.write_text("GloziChat benchmark\n")
    conf = workdir / "ngircd.conf"
    conf.write_text(NGIRCD_CONF.read_text().format(port=port, motd=motd))
    with open(workdir / "ngircd.log", "wb") as log:
        process = subprocess.Popen(
            [binary, "--nodaemon", "--config", str(conf)], stdout=log, stderr=subprocess.STDOUT, cwd=workdir
        )
    server = RunningServer("ngircd", process, workdir, {"irc": port})
    try:
        _wait_for(lambda: _accepts(port), process, "ngircd")
    except RuntimeError:
        server.stop()
        raise
    return server
