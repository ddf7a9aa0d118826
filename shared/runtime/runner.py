"""Runs a node under uvicorn and checks a node's configuration and dependencies."""

from __future__ import annotations

import asyncio
import logging
import sys

import uvicorn
from redis.asyncio import Redis

from shared import VERSION
from shared.db import make_engine
from shared.events import DEAD_LETTERS, STREAMS
from shared.runtime.node import Node, build_app
from shared.settings import Settings, redact
from shared.telemetry import setup_logging

log = logging.getLogger("lotse")


class NodeServer(uvicorn.Server):
    """uvicorn with a start banner printing the node's URLs."""

    def __init__(self, config: uvicorn.Config, node: Node) -> None:
        super().__init__(config)
        self.node = node

    async def startup(self, sockets: list | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets)
        s = self.node.settings
        port = s.http_port
        if self.servers and self.servers[0].sockets:
            port = self.servers[0].sockets[0].getsockname()[1]
        base = f"http://{s.http_host}:{port}"
        lines = [
            f"Lotse {VERSION} node {s.node_id} ({s.level}) — services: {', '.join(self.node.specs)}",
            f"  API      {base}/api/<service>/v1   (docs: {base}/docs)",
            f"  health   {base}/healthz  {base}/readyz  {base}/metrics",
            f"  bus      {redact(self.node.redis_url)}" + ("  (embedded)" if self.node.embedded else ""),
            f"  data     {s.data_dir}",
            f"  token    lotse token --node {s.data_dir} --sub alice --role manager --tenant {s.tenants[0]}",
        ]
        print("\n".join(lines), flush=True)


def run_node(settings: Settings) -> None:
    """Serve the node until Ctrl-C/SIGTERM; shutdown finishes in-flight batches first."""
    setup_logging()
    node = Node(settings)
    app = build_app(node)
    config = uvicorn.Config(app, host=settings.http_host, port=settings.http_port, log_level="warning",
                            lifespan="on", timeout_graceful_shutdown=30)
    server = NodeServer(config, node)
    server.run()
    if not server.started:
        sys.exit(1)


async def check_node(settings: Settings) -> bool:
    """Print what works and what does not; True when everything is reachable."""
    ok = True
    print(f"config   ok: node {settings.node_id} ({settings.level}), tenants {', '.join(settings.tenants)}")
    url = settings.redis_url
    info_file = settings.data_dir / "node.json"
    if url is None and info_file.exists():
        import json

        url = json.loads(info_file.read_text()).get("redis_url")
    if url is None:
        print("redis    embedded (starts with the node; not running now)")
    else:
        redis = Redis.from_url(url, socket_connect_timeout=3)
        try:
            server = await redis.info("server")
            print(f"redis    ok: {redact(url)} ({server.get('redis_version')})")
            for name, stream in STREAMS.items():
                try:
                    for g in await redis.xinfo_groups(stream):
                        print(f"  {name:<14} group {g['name'].decode():<16} lag={g.get('lag')} "
                              f"pending={g['pending']}")
                except Exception:
                    pass
            print(f"  dead letters: {await redis.xlen(DEAD_LETTERS)}")
        except Exception as exc:
            ok = False
            print(f"redis    FAILED: {redact(url)}: {exc}")
        finally:
            await redis.aclose()
    for service in settings.services:
        db_url = settings.database_url_for(service)
        try:
            engine = make_engine(db_url)
            with engine.connect() as conn:
                version = conn.exec_driver_sql(
                    "select sqlite_version()" if db_url.startswith("sqlite") else "show server_version"
                ).scalar()
            engine.dispose()
            print(f"db       ok: {service}: {db_url.split('@')[-1]} ({version})")
        except Exception as exc:
            ok = False
            print(f"db       FAILED: {service}: {exc}")
    return ok


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(check_node(Settings()))
