"""Runs a node under uvicorn: checks first, its port bound before anything starts, a clean failure."""

from __future__ import annotations

import errno
import logging
import os
import socket
from contextlib import suppress

import uvicorn

from shared import VERSION
from shared.runtime import heap
from shared.runtime.app import build_app
from shared.runtime.checks import preflight
from shared.runtime.failures import OperatorError
from shared.runtime.logging import UVICORN_LOGGING, setup_logging
from shared.runtime.node import Node
from shared.settings import WEB, Settings, redact


class HeldLogs(logging.Handler):
    """The start's log records: shown once the node runs (or with --debug), dropped when it fails."""

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug, self.released = debug, False
        self.records: list[logging.LogRecord] = []
        self.real: list[logging.Handler] | None = None
        # uvicorn logs a failed start as a traceback on its own logger: the CLI says it in one line.
        self.quiet = logging.Filter()
        self.quiet.filter = lambda record: self.debug or self.released  # type: ignore[method-assign]

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def capture(self) -> None:
        root = logging.getLogger()
        self.real, root.handlers = root.handlers[:], [self]
        logging.getLogger("uvicorn.error").addFilter(self.quiet)

    def finish(self, show: bool) -> None:
        if self.released:
            return
        self.released = True
        if self.real is None:
            return
        logging.getLogger().handlers = self.real
        for record in self.records if show or self.debug else []:
            for handler in self.real:
                if record.levelno >= handler.level:
                    handler.handle(record)


class SettledServer(uvicorn.Server):
    """uvicorn whose process, once started, sets its start-up heap aside from garbage collection (heap.py)."""

    async def startup(self, sockets: list | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets)
        heap.settle()


class NodeServer(SettledServer):
    """uvicorn with a start banner printing the node's URLs."""

    def __init__(self, config: uvicorn.Config, node: Node, logs: HeldLogs) -> None:
        super().__init__(config)
        self.node, self.logs = node, logs

    async def startup(self, sockets: list | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets)
        self.logs.finish(show=True)
        s = self.node.settings
        port = s.http_port
        if self.servers and self.servers[0].sockets:
            port = self.servers[0].sockets[0].getsockname()[1]
        base = f"http://{s.http_host}:{port}"
        lines = [
            f"Lotse {VERSION} node {s.node_id} ({s.level}) — services: {', '.join(self.node.specs)}",
            f"  API      {base}/api/<service>/v1   (docs: {base}/docs)",
            f"  health   {base}/healthz  {base}/readyz  {base}/metrics",
            *([f"  web      {base}/   (sign in as a demo user while dev tokens are on)"] if WEB in s.services else []),
            f"  bus      {redact(self.node.redis_url)}" + ("  (embedded)" if self.node.embedded else ""),
            f"  data     {s.data_dir}",
            f"  token    lotse token --node {s.data_dir} --sub alice --role manager --tenant {s.tenants[0]}",
        ]
        print("\n".join(lines), flush=True)


def listen(settings: Settings) -> socket.socket:
    """The HTTP socket, bound before the node starts: a taken port stops nothing half-started."""
    host, port = settings.http_host, settings.http_port
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise OperatorError(f"LOTSE_HTTP_HOST: {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        setting = "LOTSE_HTTP_HOST" if exc.errno == errno.EADDRNOTAVAIL else "LOTSE_HTTP_PORT"
        raise OperatorError(f"{setting}: cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def run_web(settings: Settings) -> None:
    """Split mode `--services web`: the web app alone, a client of the services' APIs at LOTSE_WEB_API_URL."""
    from web.app import standalone

    if settings.web_api_url is None:
        raise OperatorError("LOTSE_WEB_API_URL: required to run the web app on its own (--services web)")
    sock = listen(settings)
    config = uvicorn.Config(standalone(settings), log_level="warning", lifespan="on", server_header=False,
                            **UVICORN_LOGGING)
    print(f"Lotse {VERSION} web app of node {settings.node_id} on http://{settings.http_host}:"
          f"{sock.getsockname()[1]}/ — API at {settings.web_api_url}", flush=True)
    try:
        SettledServer(config).run(sockets=[sock])
    finally:
        sock.close()


def run_node(settings: Settings, debug: bool = False) -> None:
    """Serve the node until Ctrl-C/SIGTERM; shutdown finishes in-flight batches first."""
    os.umask(0o077)  # every file and directory the node creates is its user's alone, from the first byte
    setup_logging()
    if not settings.bus_services:
        run_web(settings)
        return
    preflight(settings)
    sock = listen(settings)
    logs = HeldLogs(debug)
    try:
        node = Node(settings)
        config = uvicorn.Config(build_app(node), log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=30, server_header=False,  # no "Server: uvicorn"
                                **UVICORN_LOGGING)
        server = NodeServer(config, node, logs)
        logs.capture()
        with suppress(SystemExit):  # uvicorn's answer to a failed start; the cause is the node's
            server.run(sockets=[sock])
    finally:
        logs.finish(show=False)
        sock.close()
    if not server.started:
        cause = getattr(node, "start_error", None)
        if cause is not None:
            raise cause
        raise OperatorError("the node did not start (run with --debug to see its log)")
