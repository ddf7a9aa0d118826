"""Can this node reach what it needs? Redis, its databases, its OIDC issuer — answered in one line each."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError, ResponseError

from shared import VERSION
from shared.events import DEAD_LETTERS, STREAMS
from shared.runtime.failures import OperatorError, first_line, unreachable
from shared.settings import Settings, redact, trusted_issuer

SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass
class Bus:
    """The Redis a command talks to: the configured one, or the node's embedded server as recorded."""

    url: str
    setting: str = "LOTSE_REDIS_URL"
    embedded: bool = False
    node_id: str = ""


def redis_client(bus: Bus) -> redis.Redis:
    """A client that answers, else OperatorError naming the setting (or the stopped node)."""
    client = redis.Redis.from_url(bus.url, socket_connect_timeout=3, socket_timeout=10)
    try:
        client.ping()
    except (RedisError, OSError) as exc:
        client.close()
        if bus.embedded and not isinstance(exc, AuthenticationError | ResponseError):
            raise OperatorError(f"node {bus.node_id} is not running: its embedded server {redact(bus.url)} "
                                "does not answer (start it with `lotse node up`)") from None
        raise unreachable(bus.setting, bus.url, exc) from None
    return client


def server_version(client: redis.Redis) -> str:
    try:
        info = client.info("server")
    except NoPermissionError:  # a federation link user may only PING and use its streams
        return "version not visible to this user"
    return str(info.get("valkey_version") or info.get("redis_version"))


def sqlite_path(url: str) -> Path | None:
    if not url.startswith("sqlite"):
        return None
    return Path(url.split("///", 1)[-1].split("?", 1)[0])


def reach_database(url: str) -> str:
    """The server's version (PostgreSQL); nothing is created (an SQLite file is only read)."""
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            return "not created yet: the node creates it at start"
        with path.open("rb") as f:
            if f.read(16) != SQLITE_HEADER:
                raise OperatorError(f"LOTSE_DATABASE_URL: {path} is not an SQLite database")
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    from sqlalchemy import NullPool, create_engine
    from sqlalchemy.exc import ArgumentError, DBAPIError

    try:
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    except (ArgumentError, ImportError) as exc:
        raise OperatorError(f"LOTSE_DATABASE_URL: {redact(url)}: {first_line(exc)} "
                            "(use postgresql+psycopg://user:password@host/db)") from None
    try:
        with engine.connect() as conn:
            return f"PostgreSQL {conn.exec_driver_sql('show server_version').scalar()}"
    except DBAPIError as exc:
        raise unreachable("LOTSE_DATABASE_URL", url, exc) from None
    finally:
        engine.dispose()


def fetch_discovery(issuer: str, client: httpx.Client | None = None) -> dict[str, Any]:
    """The issuer's OpenID configuration; it must name the same issuer and an https (or loopback) JWKS URL."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        answer = (client or httpx.Client(timeout=5)).get(url)
        answer.raise_for_status()
        doc = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OperatorError(f"LOTSE_OIDC_ISSUER: cannot fetch {url}: {first_line(exc)}") from None
    if not isinstance(doc, dict) or str(doc.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        named = doc.get("issuer") if isinstance(doc, dict) else None
        raise OperatorError(f"LOTSE_OIDC_ISSUER: {url} names the issuer {named!r}, not {issuer!r}")
    if not trusted_issuer(str(doc.get("jwks_uri", ""))):
        raise OperatorError(f"LOTSE_OIDC_ISSUER: {url} has no https jwks_uri")
    return doc


def preflight(settings: Settings) -> None:
    """Before a node starts anything: its databases and its Redis answer, with the right password."""
    for url in sorted({settings.database_url_for(s) for s in settings.bus_services}):
        if sqlite_path(url) is None:
            reach_database(url)
    if settings.redis_url and not settings.redis_sentinels:  # with Sentinel the URL names no server
        redis_client(Bus(settings.redis_url)).close()
    if settings.state_redis_url:
        try:
            redis_client(Bus(settings.state_redis_url, "LOTSE_STATE_REDIS_URL")).close()
        except OperatorError as exc:
            if "wrong user name or password" in str(exc):
                raise  # a wrong link credential is configuration; a state outage is not
            print(f"lotse: warning: {exc} (the relay keeps trying)", file=sys.stderr)


def check_node(settings: Settings, recorded: dict[str, Any]) -> bool:
    """`lotse node check`: what works on stdout, each failure as one line on stderr; creates nothing."""
    failures: list[str] = []

    def ok(line: str) -> None:
        print(line, flush=True)

    def failed(exc: OperatorError) -> None:
        failures.append(str(exc))
        print(f"lotse: {exc}", file=sys.stderr, flush=True)

    ok(f"config   ok: node {settings.node_id} ({settings.level}), tenants {', '.join(settings.tenants)}, "
       f"Lotse {VERSION}")
    buses = []
    if settings.redis_url:
        buses.append(Bus(settings.redis_url))
    elif recorded.get("redis_url") and recorded.get("embedded", True):
        buses.append(Bus(recorded["redis_url"], embedded=True, node_id=settings.node_id))
    else:
        ok("redis    embedded (starts with the node)")
    if settings.state_redis_url:
        buses.append(Bus(settings.state_redis_url, "LOTSE_STATE_REDIS_URL"))
    for bus in buses:
        try:
            client = redis_client(bus)
        except OperatorError as exc:
            if bus.embedded:
                ok(f"redis    embedded (not running now; starts with the node): {redact(bus.url)}")
                continue
            failed(exc)
            continue
        try:
            ok(f"redis    ok: {bus.setting} {redact(bus.url)} ({server_version(client)})")
            if bus.setting == "LOTSE_REDIS_URL":
                _report_groups(client, ok)
        finally:
            client.close()
    for service in settings.bus_services:
        url = settings.database_url_for(service)
        try:
            ok(f"db       ok: {service}: {redact(url)} ({reach_database(url)})")
        except OperatorError as exc:
            failed(exc)
    if settings.oidc_issuer:
        try:
            fetch_discovery(settings.oidc_issuer)
            ok(f"oidc     ok: {settings.oidc_issuer}")
        except OperatorError as exc:
            failed(exc)
    return not failures


def _report_groups(client: redis.Redis, ok: Any) -> None:
    for name, stream in STREAMS.items():
        try:
            groups = client.xinfo_groups(stream)
        except ResponseError:  # no such stream yet
            continue
        for g in groups:
            ok(f"  {name:<14} group {g['name'].decode():<16} lag={g.get('lag')} pending={g['pending']}")
    ok(f"  dead letters: {client.xlen(DEAD_LETTERS)}")
