"""Run the real ``keyroute serve`` command in a subprocess, on an ephemeral port.

``serve_process`` starts ``keyroute serve --port 0`` (uvicorn binds the port, so no probe-then-
release race), reads the bound port from uvicorn's own "running on" line, waits until ``/health``
answers and terminates the whole process group after. ``worker_pid`` tells which process of a
``--workers N`` server holds the server side of a TCP connection (read from ``/proc``), so a test
can prove that two requests were served by two different workers.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
_START_SECONDS = 60.0


@dataclass
class ServeProcess:
    url: str
    proc: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    def children(self) -> set[int]:
        """The pids of the worker processes (empty for a single-process server)."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            children = {int(p) for p in path.read_text().split()}
        except OSError:
            return set()
        # Workers are multiprocessing spawns; the resource tracker is a child too.
        return {pid for pid in children if b"spawn_main" in _cmdline(pid)}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _drain(stream: Iterator[str], log: list[str], port: list[int], found: threading.Event) -> None:
    for line in stream:
        log.append(line)
        match = _RUNNING.search(line)
        if match and not port:
            port.append(int(match.group(1)))
            found.set()
    found.set()


@contextmanager
def serve_process(
    command: Sequence[str], env: dict[str, str], *, workers: int = 1
) -> Iterator[ServeProcess]:
    """``command`` is the keyroute executable (``[python, "-m", "keyroute"]`` or a venv's)."""
    args = [*command, "serve", "--host", "127.0.0.1", "--port", "0"]
    if workers > 1:
        args += ["--workers", str(workers)]
    proc = subprocess.Popen(
        args,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    log: list[str] = []
    port: list[int] = []
    found = threading.Event()
    assert proc.stderr is not None
    reader = threading.Thread(target=_drain, args=(proc.stderr, log, port, found), daemon=True)
    reader.start()
    try:
        found.wait(_START_SECONDS)
        if not port:
            raise AssertionError("keyroute serve did not start:\n" + "".join(log))
        server = ServeProcess(url=f"http://127.0.0.1:{port[0]}", proc=proc, log=log)
        _wait_healthy(server, workers)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        reader.join(timeout=5)
        proc.stderr.close()


def _wait_healthy(server: ServeProcess, workers: int) -> None:
    """Until ``/health`` answers and every worker has finished its start-up."""
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        started = sum("Application startup complete" in line for line in server.log)
        try:
            ok = httpx.get(server.url + "/health", timeout=2).status_code == 200
        except httpx.TransportError:
            ok = False
        if ok and started >= workers:
            return
        if server.proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError("keyroute serve never became healthy:\n" + "".join(server.log))


def _socket_inodes(port: int, peer_port: int) -> set[str]:
    """Inodes of the sockets whose local port is ``port`` and remote port ``peer_port``."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, remote, inode = cols[1], cols[2], cols[9]
            if int(local.rsplit(":", 1)[1], 16) == port and (
                int(remote.rsplit(":", 1)[1], 16) == peer_port
            ):
                inodes.add(inode)
    return inodes


def worker_pid(server: ServeProcess, client_port: int) -> int | None:
    """The worker holding the server side of the connection from ``client_port``."""
    port = int(server.url.rsplit(":", 1)[1])
    inodes = {f"socket:[{i}]" for i in _socket_inodes(port, client_port)}
    for pid in server.children() or {server.proc.pid}:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    return None
