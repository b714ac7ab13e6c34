"""Files (issue 18): upload throughput on loopback, and the chat's P1 latency while a large upload runs.

Run by hand, not in CI:

    python -m benchmarks.files --out /tmp/files.json

It starts one ``twistd -n glozichat`` with its web door on loopback, then:

1. **throughput**: one member uploads 4 files of 26,214,400 bytes (100 MiB in
   all) one after the other with ``PUT /upload``; the figures are MiB/s of
   wall time and the server's CPU time per MiB (every thread: the chat's and
   the one that syncs the file);
2. **P1 quiet**: the load generator's P1 scenario (200 clients in one room,
   10 senders x 20/s for 10 s) with nothing else going on;
3. **P1 during uploads**: P1 again while another member, in a process of its
   own, uploads 25 MiB files back to back (at most 40 of them; it stops when
   P1 ends).

The goal (issue 18): P1's p99 during the uploads within 2x of the quiet one.
Everything talks to 127.0.0.1 only; every loop is bounded in count and time;
the server is stopped at the end.
"""

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.loadgen import SCENARIOS, process_cpu_ns, run_scenario
from benchmarks.servers import GLOZICHAT_LIMITS, start_glozichat

FILE_BYTES = 26_214_400
FILES = 4
MIB = 1024 * 1024
MAX_BACKGROUND_UPLOADS = 40
UPLOADER_SESSION = 9
"""A built-in session P1 does not use."""


class Member:
    """A native connection in one session that asks for upload tokens (JSON lines over a blocking socket)."""

    def __init__(self, port: int, name: str = "uploader") -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.reader = self.socket.makefile("rb")
        self.next_frame()  # the welcome
        self.ask({"type": "join", "session": UPLOADER_SESSION, "username": name}, "joined")

    def next_frame(self) -> dict[str, Any]:
        line = self.reader.readline()
        if not line:
            raise ConnectionError("the server closed the connection")
        frame: dict[str, Any] = json.loads(line)
        return frame

    def ask(self, frame: dict[str, Any], answer: str) -> dict[str, Any]:
        """Send ``frame``; the first frame of type ``answer`` (at most 100 frames read)."""
        self.socket.sendall(json.dumps(frame).encode() + b"\n")
        for _ in range(100):
            received = self.next_frame()
            if received["type"] == answer:
                return received
            if received["type"] == "error":
                raise RuntimeError(received)
        raise RuntimeError(f"no {answer}")

    def token(self, size: int) -> str:
        ready = self.ask(
            {"type": "upload", "session": UPLOADER_SESSION, "name": "big.bin", "size": size,
             "media_type": "application/octet-stream"},
            "upload_ready",
        )  # fmt: skip
        return str(ready["token"])

    def close(self) -> None:
        self.reader.close()
        self.socket.close()


def upload(web_port: int, token: str, data: bytes) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", web_port, timeout=120)
    try:
        connection.request("PUT", "/upload", body=data, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 201:
            raise RuntimeError(f"upload refused: {response.status} {body!r}")
    finally:
        connection.close()


def throughput(member: Member, web_port: int, pid: int, data: bytes) -> dict[str, float]:
    tokens = [member.token(len(data)) for _ in range(FILES)]
    cpu_before = process_cpu_ns(pid)
    started = time.monotonic()
    for token in tokens:
        upload(web_port, token, data)
    seconds = time.monotonic() - started
    cpu_seconds = (process_cpu_ns(pid) - cpu_before) / 1e9
    mebibytes = FILES * len(data) / MIB
    return {
        "mib": mebibytes,
        "seconds": round(seconds, 3),
        "mib_per_s": round(mebibytes / seconds, 1),
        "server_cpu_s": round(cpu_seconds, 3),
        "server_cpu_ms_per_mib": round(cpu_seconds / mebibytes * 1000, 2),
    }


def p1(port: int, pid: int) -> dict[str, Any]:
    result = asyncio.run(run_scenario(SCENARIOS["P1"], "native", "127.0.0.1", [port], [pid], 60.0))
    keys = ("delivered", "lost", "p50_ms", "p99_ms", "max_ms", "server_cpu_us_per_delivery", "errors")
    return {key: result[key] for key in keys}


def _keep_uploading(native_port: int, web_port: int, stop: Any, uploaded: Any) -> None:
    """In a process of its own (so that it never takes the load generator's
    interpreter): upload 25 MiB files back to back until ``stop`` is set."""
    member = Member(native_port, "uploader2")
    data = os.urandom(FILE_BYTES)
    try:
        for _ in range(MAX_BACKGROUND_UPLOADS):
            if stop.is_set():
                return
            upload(web_port, member.token(len(data)), data)
            with uploaded.get_lock():
                uploaded.value += len(data)
    finally:
        member.close()


def p1_during_uploads(web_port: int, port: int, pid: int) -> dict[str, Any]:
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    uploaded = context.Value("q", 0)
    uploader = context.Process(target=_keep_uploading, args=(port, web_port, stop, uploaded))
    uploader.start()
    try:
        result = p1(port, pid)
    finally:
        stop.set()
        uploader.join(timeout=120)
        if uploader.is_alive():
            uploader.kill()
    result["uploaded_mib_meanwhile"] = round(uploaded.value / MIB, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the figures as JSON here (use /tmp while trying)")
    args = parser.parse_args(argv)
    data = os.urandom(FILE_BYTES)
    with tempfile.TemporaryDirectory(prefix="glozichat-files-bench-") as workdir:
        options = [*GLOZICHAT_LIMITS, "--db", ":memory:", "--user-quota", str(100 * FILE_BYTES),
                   "--files-quota", str(100 * FILE_BYTES)]  # fmt: skip
        server = start_glozichat(Path(workdir), irc=False, web=True, options=options)
        try:
            member = Member(server.ports["native"])
            try:
                figures = {
                    "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "cpus": os.cpu_count(),
                    "throughput": throughput(member, server.ports["web"], server.pid, data),
                    "p1_quiet": p1(server.ports["native"], server.pid),
                    "p1_during_uploads": p1_during_uploads(server.ports["web"], server.ports["native"], server.pid),
                }
            finally:
                member.close()
        finally:
            server.stop()
    quiet, busy = figures["p1_quiet"]["p99_ms"], figures["p1_during_uploads"]["p99_ms"]
    figures["p99_ratio"] = round(busy / quiet, 2) if quiet else None
    figures["goal_met"] = figures["p99_ratio"] is not None and figures["p99_ratio"] <= 2.0
    text = json.dumps(figures, indent=2)
    sys.stdout.write(text + "\n")
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0 if figures["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
