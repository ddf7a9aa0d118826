"""The node's Redis client packs commands with hiredis: the bytes redis-py's own packer makes, on a real server."""

from __future__ import annotations

import hiredis
import pytest
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError

from shared.bus.connection import BusAddress, bus_client, packed_in_c
from shared.runtime.embedded import EmbeddedServer

COMMANDS: list[tuple[object, ...]] = [
    ("PING",),
    ("CONFIG GET", "maxmemory"),  # a two-word command name, split as redis-py splits it
    (b"CLIENT SETNAME", b"lotse"),
    ("SET", "key", "wert mit Umlauten: äöü ß — and an emoji 🙂"),
    ("SET", "n", 42), ("SET", "f", 2.5), ("SET", "b", b"\x00\xffraw bytes"),
    ("XADD", "lotse:events:cases", "*", "event", '{"event_id": "01J", "payload": {"note": null}}'),
    ("EVALSHA", "0" * 40, 1, "lotse:bus:published:x", "field", "", "2026-12-01T05:00:00+00:00",
     *(part for _ in range(500) for part in ("lotse:events:cases", "x" * 600))),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: str(c[0]))
def test_hiredis_packs_each_command_byte_for_byte_as_redis_py_does(
        command: tuple[object, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    pack = hiredis.pack_command
    monkeypatch.setattr(hiredis, "pack_command", lambda args: calls.append(args) or pack(args))
    plain = Connection()
    packed = bus_client(BusAddress("redis://127.0.0.1:1")).connection_pool.connection_class()
    assert b"".join(packed.pack_command(*command)) == b"".join(plain.pack_command(*command))  # type: ignore[arg-type]
    assert len(calls) == 1  # packed by hiredis, not by redis-py's Python


def test_an_argument_redis_cannot_take_is_still_refused_before_it_is_sent() -> None:
    packed = packed_in_c(bus_client(BusAddress("redis://127.0.0.1:1"))).connection_pool.connection_class()
    with pytest.raises(DataError):
        packed.pack_command("SET", "key", None)


def test_every_kind_of_connection_keeps_its_own_behaviour_and_is_wrapped_once() -> None:
    for url, kind in (("redis://127.0.0.1:6379/0", Connection), ("rediss://127.0.0.1:6380/0", SSLConnection),
                      ("unix:///run/redis.sock", UnixDomainSocketConnection)):
        client = bus_client(BusAddress(url))
        wrapped = client.connection_pool.connection_class
        assert issubclass(wrapped, kind)
        assert packed_in_c(client).connection_pool.connection_class is wrapped  # not wrapped twice


async def test_the_bus_client_talks_to_a_real_server(valkey: EmbeddedServer) -> None:
    client = bus_client(BusAddress(valkey.url))
    try:
        text = "wert mit Umlauten: äöü ß 🙂"
        await client.set("key", text)
        assert (await client.get("key")).decode() == text
        await client.set("n", 41)
        assert await client.incr("n") == 42
        entry = await client.xadd("lotse:events:cases", {"event": '{"a": 1}'})
        assert (await client.xrange("lotse:events:cases"))[0] == (entry, {b"event": b'{"a": 1}'})
        script = client.register_script("return #ARGV")
        assert await script(keys=["k"], args=["x" * 600] * 1000) == 1000
        async with client.pipeline(transaction=True) as pipe:
            assert await pipe.hset("h", "f", "v").hget("h", "f").execute() == [1, b"v"]
    finally:
        await client.aclose()
