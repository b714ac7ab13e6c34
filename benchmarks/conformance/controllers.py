"""irctest controllers for the servers benchmarks/irc-conformance measures.

irctest (fetched at run time, never kept in this repository) starts one fresh
server per test through a "controller": ``run(hostname, port, password=...)``
starts it listening on ``port``, ``wait_for_port`` waits until it accepts,
``kill`` stops it and removes its files. These are ours, for GloziChat (the
real ``twistd -n glozichat`` from this checkout), ngircd and InspIRCd, each on
127.0.0.1 only, in a temporary directory of its own.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 30.0
POLL_INTERVAL = 0.05


class LoopbackServerController(BaseServerController, DirectoryBasedController):
    """A server started as a child process on a loopback port; subclasses say how."""

    software_name = "?"
    supported_sasl_mechanisms: frozenset[str] = frozenset()
    supports_password = True

    def run(
        self,
        hostname: str,
        port: int,
        password: str | None = None,
        ssl: bool = False,
        valid_metadata_keys: object = None,
        invalid_metadata_keys: object = None,
        restricted_metadata_keys: object = None,
    ) -> None:
        if ssl:
            raise NotImplementedByController("TLS in this benchmark")
        if valid_metadata_keys or invalid_metadata_keys:
            raise NotImplementedByController("METADATA")
        if password is not None and not self.supports_password:
            raise NotImplementedByController("server password (PASS)")
        assert self.proc is None
        self.port = port
        self.directory = tempfile.mkdtemp(prefix=f"irctest-{self.software_name.lower()}-")
        self.proc = subprocess.Popen(
            self.command(port, password),
            cwd=self.directory,
            env=self.environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def command(self, port: int, password: str | None) -> list[str]:
        """The argument vector that starts the server listening on ``LOOPBACK:port``."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def wait_for_port(self) -> None:
        """Return once the server accepts on its port; raise if it died or took too long."""
        if self.port_open:
            return
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.software_name} exited early with status {self.proc.returncode}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                if probe.connect_ex((LOOPBACK, self.port)) == 0:
                    self.port_open = True
                    return
            time.sleep(POLL_INTERVAL)
        raise RuntimeError(f"{self.software_name} did not listen on {LOOPBACK}:{self.port} within {STARTUP_TIMEOUT} s")


class GloziChatController(LoopbackServerController):
    """The real ``twistd -n glozichat`` from this checkout, IRC door on the test's port."""

    software_name = "GloziChat"

    def command(self, port: int, password: str | None) -> list[str]:
        twistd = shutil.which("twistd")
        launcher = [twistd] if twistd else [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
        return [
            *launcher,
            "-n",
            "--pidfile=",
            "glozichat",
            "--name",
            "conformance.glozichat",
            # What irctest configures every server to describe itself as.
            "--description",
            "test server",
            "--port",
            f"tcp:0:interface={LOOPBACK}",
            "--irc-port",
            f"tcp:{port}:interface={LOOPBACK}",
            "--db",
            ":memory:",
            # irctest expects a server with no channel until its clients create them.
            "--no-builtin-sessions",
            "--exit-code-file",
            os.path.join(self.directory, "exit-code"),
            # Self-contained: no fixed discovery port, no sniffing on the host.
            "--no-sniff",
            "--discovery-port",
            "0",
            *self._password_option(password),
        ]

    def _password_option(self, password: str | None) -> list[str]:
        """``--password-file`` (mode 0600, as docs/security.md asks) for a test that wants a server password."""
        if password is None:
            return []
        path = os.path.join(self.directory, "password")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as secret:
            secret.write(password + "\n")
        return ["--password-file", path]

    def environment(self) -> dict[str, str]:
        return dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")


NGIRCD_CONFIG = """\
[Global]
	Name = conformance.ngircd
	Info = ngircd for the GloziChat conformance benchmark
	Listen = {address}
	Ports = {port}
	MotdPhrase = ngircd under irctest
	{password}
	PidFile = {directory}/ngircd.pid
[Limits]
	MaxConnectionsIP = 0
	MaxJoins = 0
	MaxPenaltyTime = 0
	PingTimeout = 3600
	PongTimeout = 600
[Options]
	DNS = no
	Ident = no
	PAM = no
"""


class NgircdController(LoopbackServerController):
    """Debian's ngircd in the foreground with a configuration of its own."""

    software_name = "ngircd"

    def command(self, port: int, password: str | None) -> list[str]:
        config = Path(self.directory, "ngircd.conf")
        config.write_text(
            NGIRCD_CONFIG.format(
                address=LOOPBACK,
                port=port,
                directory=self.directory,
                password=f"Password = {password}" if password else "",
            )
        )
        return [shutil.which("ngircd") or "/usr/sbin/ngircd", "--nodaemon", "--config", str(config)]


INSPIRCD_CONFIG = """\
<server name="conformance.inspircd" description="InspIRCd for the GloziChat conformance benchmark" network="Conformance">
<admin name="nobody" nick="nobody" email="nobody@localhost">
<bind address="{address}" port="{port}" type="clients">
<connect allow="*" resolvehostnames="no" maxlocal="1000" maxglobal="1000" localmax="1000" globalmax="1000"
         threshold="1000" commandrate="100000" fakelag="off" {password}>
<class name="everything" commands="*" privs="*" usermodes="*" chanmodes="*">
<type name="Operator" classes="everything">
<files motd="{directory}/motd">
<pid file="{directory}/inspircd.pid">
<log method="file" type="*" level="default" target="{directory}/inspircd.log">
<options allowzerolimit="no">
<security hidesplits="no">
"""


class InspircdController(LoopbackServerController):
    """Debian's InspIRCd 3 in the foreground with a configuration of its own."""

    software_name = "InspIRCd"

    def command(self, port: int, password: str | None) -> list[str]:
        Path(self.directory, "motd").write_text("InspIRCd under irctest\n")
        config = Path(self.directory, "inspircd.conf")
        config.write_text(
            INSPIRCD_CONFIG.format(
                address=LOOPBACK,
                port=port,
                directory=self.directory,
                password=f'password="{password}"' if password else "",
            )
        )
        # --runasroot: the benchmark may run as root (CI does); the server only ever listens on loopback.
        return [shutil.which("inspircd") or "/usr/sbin/inspircd", "--nofork", "--runasroot", "--config", str(config)]


CONTROLLERS = {
    "glozichat": GloziChatController,
    "ngircd": NgircdController,
    "inspircd": InspircdController,
}
