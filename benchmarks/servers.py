"""Start and stop the servers under test: GloziChat (``twistd -n glozichat``) and ngircd.

Every server listens on 127.0.0.1 only, on a port of its own, and is killed by
``RunningServer.stop`` (SIGTERM, then SIGKILL after a grace period).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
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
_LISTEN = "tcp:0:interface=127.0.0.1:backlog=1024"
_NATIVE_PORT = re.compile(r"native protocol listening on 127\.0\.0\.1:(\d+)")
_IRC_PORT = re.compile(r"IRC listening on 127\.0\.0\.1:(\d+)")


@dataclass
class RunningServer:
    """A server process under test and the loopback ports of its doors."""

    name: str
    process: subprocess.Popen
    workdir: Path
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Stop the process: SIGTERM, and SIGKILL if it is still there after a grace period."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def glozichat_has_irc() -> bool:
    """Whether this checkout's glozichat has an IRC door (``--irc-port``)."""
    from glozi.tap import Options

    try:
        Options().parseOptions(["--irc-port", "tcp:0:interface=127.0.0.1"])
    except Exception:  # noqa: BLE001 - usage.UsageError or anything else: no IRC door
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


def start_glozichat(workdir: Path, *, irc: bool) -> RunningServer:
    """Start ``twistd -n glozichat`` on loopback with the benchmark limits.

    The ports come from the server's own log, as in tests/realserver.py.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "glozichat.log"
    args = [
        *_twistd(), "-n", "--pidfile=", "glozichat",
        "--port", _LISTEN,
        "--exit-code-file", str(workdir / "exit-code"),
        "--no-sniff", "--discovery-port", "0",
        *GLOZICHAT_LIMITS,
    ]  # fmt: skip
    if irc:
        args += ["--irc-port", _LISTEN]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env=env)
    server = RunningServer("glozichat", process, workdir)

    def ready() -> bool:
        text = log_path.read_text(errors="replace")
        if match := _NATIVE_PORT.search(text):
            server.ports["native"] = int(match.group(1))
        if irc and (match := _IRC_PORT.search(text)):
            server.ports["irc"] = int(match.group(1))
        return "native" in server.ports and (not irc or "irc" in server.ports)

    try:
        _wait_for(ready, process, "glozichat")
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
