"""The municipal side of the link: up-scoped events to the state, decisions down to the local bus."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any

from opentelemetry import trace
from prometheus_client import Counter, Gauge
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from shared import VERSION
from shared.bus.cancellation import raise_if_cancelled
from shared.bus.connection import packed_in_c, resilient
from shared.bus.consumer import ensure_group
from shared.events import DEAD_LETTERS, STREAMS, Envelope, UnknownEvent, latest, parse_payload
from shared.events.federation import NodeHeartbeat
from shared.events.handover import NodeBoxKey
from shared.settings import Settings
from shared.telemetry import hop_span

from .boxes import node_box_key, public_b64
from .crypto import Pseudonymizer, node_signing_key, sign, signing_key_path
from .keys import DOWN_ALL, STATE_TENANT, down_stream, inbound_stream

log = logging.getLogger(__name__)
SENT_UP = Counter("lotse_federation_sent", "Envelopes sent to the state node", ["stream"])
RECEIVED_DOWN = Counter("lotse_federation_received", "Envelopes received from the state node")
LINK_UP = Gauge("lotse_federation_link_up", "1 while the state Redis answers")
HEARTBEAT_SENT = Gauge("lotse_federation_heartbeat_sent_timestamp_seconds",
                       "Unix time of the last heartbeat sent to the state node")
UP_GROUP = "federation-up"
RELAY_CONSUMER = "relay"  # one relay per node: it re-reads its own pending entries after a restart
CHECKPOINT = "lotse:fed:checkpoint"
UP_STREAMS = (STREAMS["cases"], STREAMS["plans"], STREAMS["funding"])
BOX_KEY_EVERY = 60  # heartbeats between two announcements of the node's public X25519 key
MAX_BACKOFF_S = 1.0  # after an outage the link drains within a second or two of the state's return


class StateLinkDown(Exception):
    """The state's Redis did not take or give what the relay asked for."""


def state_client(url: str) -> Redis:
    """The link to the state: dead pooled connections are found before use and retried on a new one."""
    return packed_in_c(Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10, **resilient()))


def project(env: Envelope, pseudonym: Callable[[str], str], node_id: str) -> Envelope:
    """The state's view of a local event: pseudonymised, minimised, same event id."""
    contract = latest(env.type)
    payload = parse_payload(env).state_projection(pseudonym)
    aggregate = pseudonym(env.aggregate_id) if contract.pseudonymised_aggregate else env.aggregate_id
    return env.model_copy(update={"payload": payload, "aggregate_id": aggregate, "node": node_id})


class FederationRelay:
    """Reads this node's up-scoped events in order, signs their projections, appends them upstream."""

    def __init__(self, settings: Settings, local: Redis, state: Redis,
                 health: Callable[[], dict[str, int]] | None = None) -> None:
        self.settings = settings
        self.node = settings.node_id
        self.local, self.state = local, state
        self.key_path = signing_key_path(settings.data_dir)
        self.key = node_signing_key(settings.data_dir)
        self._key_stamp = self._stamp()
        self.pseudonym = Pseudonymizer(settings.data_dir)
        self.box_key = node_box_key(settings.data_dir)  # parcels of hand-overs are sealed for it
        self.inbound = inbound_stream(self.node)
        self.health = health or (lambda: {})
        self.batch = min(settings.batch_size, 500)
        self._stopping = False

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.key_path)
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns

    def refresh_key(self) -> None:
        """After `lotse federation key --activate` the next batch is signed with the new key."""
        stamp = self._stamp()
        if stamp is not None and stamp != self._key_stamp:
            self.key, self._key_stamp = node_signing_key(self.settings.data_dir), stamp
            log.info("federation: signing with the activated key from now on")

    def signed(self, env: Envelope) -> dict[str, str]:
        body = env.to_json()
        return {"event": body, "sig": sign(self.key, body.encode())}

    async def forward_up(self, stream: str) -> None:
        """Pending entries first (after a crash or outage), then new ones; ack after the state has them."""
        await ensure_group(self.local, stream, UP_GROUP)
        cursor = "0"
        backoff = 0.2
        while not self._stopping:
            try:
                try:
                    res = await self.local.xreadgroup(UP_GROUP, RELAY_CONSUMER, {stream: cursor},
                                                      count=self.batch, block=None if cursor == "0" else 1000)
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    log.warning("the local bus lost group %s of %s; declaring it again", UP_GROUP, stream)
                    await ensure_group(self.local, stream, UP_GROUP)
                    cursor = "0"
                    continue
                entries = res[0][1] if res else []
                if cursor == "0" and not entries:
                    cursor = ">"
                    continue
                if not entries:
                    continue
                self.refresh_key()
                outgoing = [self._outgoing(fields) for _, fields in entries]
                try:
                    async with self.state.pipeline(transaction=False) as pipe:
                        for item in outgoing:
                            if item is not None:
                                pipe.xadd(self.inbound, item)
                        if len(pipe):
                            await pipe.execute()
                except RedisError as exc:
                    raise StateLinkDown(exc) from exc
                LINK_UP.set(1)
                await self.local.xack(stream, UP_GROUP, *[eid for eid, _ in entries])
                SENT_UP.labels(stream).inc(sum(1 for i in outgoing if i is not None))
                backoff = 0.2
            except (RedisError, StateLinkDown) as exc:
                raise_if_cancelled()
                # Keep the order: nothing was acked, so the same entries are retried first.
                backoff = await self._retry_later(exc, backoff)
                cursor = "0"

    def _outgoing(self, fields: dict[bytes, bytes] | None) -> dict[str, str] | None:
        if fields is None:  # trimmed while pending
            return None
        try:
            env = Envelope.model_validate_json(fields[b"event"])
            if env.scope != "up":
                return None
            with hop_span(f"federation forward {env.type}", env, trace.SpanKind.PRODUCER) as traced:
                return self.signed(traced(project(env, self.pseudonym, self.node)))
        except (KeyError, ValidationError, UnknownEvent, ValueError) as exc:
            log.warning("not forwarding a malformed entry: %s", exc)  # dead-lettered by its consumers
            return None

    async def receive_down(self) -> None:
        """Republish what the state addressed to this node (or all) on the local bus, exactly once."""
        streams = [down_stream(self.node), DOWN_ALL]
        backoff = 0.2
        while not self._stopping:
            try:
                saved = await self.local.hgetall(CHECKPOINT)  # type: ignore[misc]
                ids = {s: saved.get(s.encode(), b"0-0").decode() for s in streams}
                try:
                    res = await self.state.xread(ids, count=self.batch, block=1000)
                except RedisError as exc:
                    raise StateLinkDown(exc) from exc
                for name, entries in res or []:
                    stream = name.decode()
                    async with self.local.pipeline(transaction=True) as pipe:
                        for _, fields in entries:
                            env = self._down_envelope(fields)
                            if env is not None:
                                pipe.xadd(STREAMS["federation"], {"event": env.to_json()})
                        pipe.hset(CHECKPOINT, stream, entries[-1][0])
                        await pipe.execute()  # republish + checkpoint atomically
                    RECEIVED_DOWN.inc(len(entries))
                LINK_UP.set(1)
                backoff = 0.2
            except (RedisError, StateLinkDown) as exc:
                raise_if_cancelled()
                backoff = await self._retry_later(exc, backoff)

    async def _retry_later(self, exc: Exception, backoff: float) -> float:
        """Name what failed (the state link, or this node's own bus), wait, return the next wait."""
        if isinstance(exc, StateLinkDown):
            LINK_UP.set(0)
            log.warning("state link down (%s); retrying in %.1fs", exc.__cause__, backoff)
        else:
            log.warning("the local bus failed (%s); retrying in %.1fs", exc, backoff)
        await asyncio.sleep(backoff)
        return min(backoff * 2, MAX_BACKOFF_S)

    def _down_envelope(self, fields: dict[bytes, bytes]) -> Envelope | None:
        try:
            env = Envelope.model_validate_json(fields[b"event"])
            parse_payload(env)
        except (KeyError, ValidationError, UnknownEvent, ValueError) as exc:
            log.warning("dropping a malformed downward entry: %s", exc)
            return None
        # A notice to every node (a funding year, say) is the state's own: tenant STATE_TENANT.
        statewide = env.target_node == "*" and env.tenant == STATE_TENANT
        if env.target_node not in (self.node, "*", None) or (env.tenant not in self.settings.tenants
                                                             and not statewide):
            log.warning("dropping %s addressed to %s/%s", env.event_id, env.target_node, env.tenant)
            return None
        return env

    async def relay_lag(self) -> int:
        lag = 0
        for stream in UP_STREAMS:
            try:
                for g in await self.local.xinfo_groups(stream):
                    if g["name"] == UP_GROUP.encode():
                        lag += int(g.get("lag") or 0) + int(g["pending"])
            except RedisError:
                pass
        return lag

    async def heartbeat(self) -> None:
        """Every N seconds: version, relay lag, outbox backlog, dead letters; the box key now and then."""
        from shared.events import envelope_for

        beats = 0
        while not self._stopping:
            try:
                self.refresh_key()
                if beats % BOX_KEY_EVERY == 0:  # at start, then again (a state that lost it learns it back)
                    announce = envelope_for(NodeBoxKey(box_key=public_b64(self.box_key)),
                                            tenant=self.settings.tenants[0], node=self.node, aggregate_id=self.node)
                    await self.state.xadd(self.inbound, self.signed(announce))
                beats += 1
                health = self.health()
                beat = NodeHeartbeat(version_string=VERSION, relay_lag=await self.relay_lag(),
                                     outbox_backlog=health.get("outbox_backlog", 0),
                                     dead_letters=int(await self.local.xlen(DEAD_LETTERS)))
                env = envelope_for(beat, tenant=self.settings.tenants[0], node=self.node,
                                   aggregate_id=self.node)
                await self.state.xadd(self.inbound, self.signed(env))
                HEARTBEAT_SENT.set_to_current_time()
            except RedisError as exc:
                raise_if_cancelled()
                log.warning("heartbeat not sent: %s", exc)
            await asyncio.sleep(self.settings.heartbeat_interval_s)

    def tasks(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        return [*(lambda s=s: self.forward_up(s) for s in UP_STREAMS), self.receive_down, self.heartbeat]

    def stop(self) -> None:
        self._stopping = True
