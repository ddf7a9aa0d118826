"""The state side of the link: verify every inbound envelope, republish the good, reject the rest."""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opentelemetry import trace
from prometheus_client import Counter
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from shared.bus.cancellation import raise_if_cancelled
from shared.bus.consumer import ensure_group
from shared.bus.outbox import add_envelope, emit
from shared.db import Database, in_chunks, insert_rows
from shared.events import STREAMS, Envelope, UnknownEvent, latest, parse_payload, stream_of, utcnow
from shared.events.federation import NodeHeartbeat, NodeSilent
from shared.events.handover import Addressed, DirectoryEntry, NodeBoxKey, NodeDirectory
from shared.telemetry import hop_span

from .crypto import verify
from .keys import DOWN_ALL, REJECTED, STATE_TENANT, down_stream, inbound_stream
from .models import RegisteredNode, SeenEnvelope

log = logging.getLogger(__name__)
SEEN = SeenEnvelope.__table__  # type: ignore[attr-defined]
ACCEPTED = Counter("lotse_federation_accepted", "Inbound envelopes accepted", ["node"])
REJECTED_TOTAL = Counter("lotse_federation_rejected", "Inbound envelopes rejected", ["node", "reason"])
INGEST_GROUP = "state-ingest"
CHUNK = 128  # inbound streams per non-blocking read


@dataclass
class Verdict:
    env: Envelope | None
    reason: str | None  # None: accepted


def check(node: RegisteredNode | None, stream_node: str, fields: dict[bytes, bytes] | None,
          now: datetime | None = None) -> Verdict:
    """Signature of a registered key, the node's own tenant, a valid, minimised up-scoped contract."""
    if node is None:
        return Verdict(None, "unregistered node")
    if not fields or b"event" not in fields or b"sig" not in fields:
        return Verdict(None, "malformed: fields event and sig required")
    body, signature = fields[b"event"], fields[b"sig"].decode(errors="replace")
    if not any(verify(key, body, signature) for key in node.keys_at(now or utcnow())):
        return Verdict(None, "bad signature")
    try:
        env = Envelope.model_validate_json(body)
        payload = parse_payload(env)
    except (ValidationError, UnknownEvent, ValueError) as exc:
        return Verdict(None, f"schema: {str(exc).splitlines()[0][:200]}")
    if env.node != stream_node:
        return Verdict(env, "node mismatch")
    if env.tenant not in node.tenants:
        return Verdict(env, f"tenant {env.tenant} does not belong to node {node.node_id}")
    if env.scope != "up" or latest(env.type).scope != "up":
        return Verdict(env, "not an up-scoped event")
    leaked = [f for f in latest(env.type).local_only_fields if getattr(payload, f, None) is not None]
    if leaked:
        return Verdict(env, f"not minimised: {', '.join(leaked)}")
    return Verdict(env, None)


class StateIngest:
    """Reads every registered node's inbound stream with a consumer group; one transaction per batch."""

    def __init__(self, redis: Redis, db: Database, consumer: str, node_id: str, *,
                 batch: int = 500, silence_s: float = 300.0) -> None:
        self.redis, self.db, self.consumer, self.node_id = redis, db, consumer, node_id
        self.batch, self.silence_s = batch, silence_s
        self._stopping = False
        self._groups: set[str] = set()  # inbound streams whose group exists
        self._registry: dict[str, RegisteredNode] = {}
        self._registry_at = 0.0
        # What was counted since the ingest process last reported it to its node (runtime/ingest_process.py).
        self._tally: collections.Counter[str] = collections.Counter()
        self._tally_lock = threading.Lock()

    def nodes(self) -> dict[str, RegisteredNode]:
        with self.db.session() as s:
            return {n.node_id: n for n in s.exec(select(RegisteredNode)).scalars()}  # type: ignore

    async def registered(self) -> dict[str, RegisteredNode]:
        """The registry, re-read every few seconds (new nodes join without a restart)."""
        if time.monotonic() - self._registry_at > 3.0:
            self._registry = await asyncio.to_thread(self.nodes)
            self._registry_at = time.monotonic()
        return self._registry

    async def run(self) -> None:
        """Sweep the inbound streams in chunks without blocking; block on all of them when idle.

        COUNT applies per stream, so chunks keep one read bounded when thousands of nodes catch up.
        """
        while not self._stopping:
            try:
                nodes = await self.registered()
                if not nodes:
                    await asyncio.sleep(1.0)
                    continue
                streams = {inbound_stream(n): n for n in nodes}
                for stream in streams.keys() - self._groups:
                    await ensure_group(self.redis, stream, INGEST_GROUP)
                    self._groups.add(stream)
                names = sorted(streams)
                got = 0
                for i in range(0, len(names), CHUNK):
                    chunk = names[i:i + CHUNK]
                    got += await self._read(streams, chunk, count=max(10, self.batch // len(chunk)))
                if not got:
                    await self._read(streams, names, count=self.batch // 10 or 1, block=500)
            except RedisError as exc:
                raise_if_cancelled()
                if "NOGROUP" in str(exc):
                    self._groups.clear()  # the server lost them: declared again on the next sweep
                log.warning("state ingest cannot read (%s)", exc)
                await asyncio.sleep(1.0)

    async def _read(self, streams: dict[str, str], names: list[str], *, count: int,
                    block: int | None = None) -> int:
        res = await self.redis.xreadgroup(INGEST_GROUP, self.consumer, dict.fromkeys(names, ">"),
                                          count=count, block=block)
        batch = [(name.decode(), streams[name.decode()], list(entries)) for name, entries in res or []]
        if batch:
            await self.ingest(batch)
        return sum(len(entries) for _, _, entries in batch)

    async def reclaim(self) -> None:
        """Entries fetched by a crashed ingest process are processed again (the replay guard dedupes)."""
        while not self._stopping:
            nodes = [n for n in await self.registered() if inbound_stream(n) in self._groups]
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for node_id in nodes:
                        pipe.xautoclaim(inbound_stream(node_id), INGEST_GROUP, self.consumer,
                                        min_idle_time=30_000, count=self.batch)
                    results = await pipe.execute() if nodes else []
                batch = [(inbound_stream(n), n, [(e, f) for e, f in r[1] if e is not None])
                         for n, r in zip(nodes, results, strict=True) if r[1]]
                if batch:
                    await self.ingest(batch)
            except RedisError as exc:
                raise_if_cancelled()
                log.warning("state ingest cannot reclaim (%s)", exc)
            await asyncio.sleep(5.0)

    async def ingest(self, batch: list[tuple[str, str, list[tuple[bytes, Any]]]]) -> None:
        """One transaction for everything one read returned, then one pipeline of XACKs."""
        rejected = await asyncio.to_thread(self._commit, batch)
        async with self.redis.pipeline(transaction=True) as pipe:
            for stream, node_id, entry_id, reason, fields in rejected:
                raw = (fields or {}).get(b"event", b"")
                pipe.xadd(REJECTED, {"node": node_id, "stream": stream, "entry_id": entry_id,
                                     "reason": reason, "event": raw[:20_000]}, maxlen=100_000)
            for stream, _, entries in batch:
                pipe.xack(stream, INGEST_GROUP, *[eid for eid, _ in entries])
            await pipe.execute()

    def _commit(self, batch: list[tuple[str, str, list[tuple[bytes, Any]]]]) -> list[tuple[Any, ...]]:
        """Accepted envelopes go to the state bus (outbox) with their replay guard rows, atomically."""
        rejected: list[tuple[Any, ...]] = []
        with self.db.session() as s:  # the registry as it is now (a key may just have been rotated)
            known = self._registered(s, {node_id for _, node_id, _ in batch})
        # Signatures and schemas are checked outside the write transaction: other writers go on.
        now = utcnow()
        verdicts = [(stream, node_id, eid, fields, check(known[node_id], node_id, fields, now))
                    for stream, node_id, entries in batch for eid, fields in entries]
        with self.db.session() as s:
            nodes = self._registered(s, set(known))
            ids = [v.env.event_id for *_, v in verdicts if v.env is not None and v.reason is None]
            seen = set(s.exec(select(SeenEnvelope.event_id).where(  # type: ignore[call-overload]
                SeenEnvelope.event_id.in_(ids))).scalars()) if ids else set()  # type: ignore[attr-defined]
            counts: dict[str, list[int]] = {n: [0, 0] for n in nodes}
            tally: collections.Counter[str] = collections.Counter()
            guard: list[tuple[str, str, datetime]] = []
            directory = False
            for stream, node_id, entry_id, fields, v in verdicts:
                reason = v.reason or ("replay" if v.env and v.env.event_id in seen else None) or (
                    "unregistered node" if nodes[node_id] is None else None)  # removed meanwhile
                addressee = None
                if reason is None and v.env is not None and latest(v.env.type).relayed:
                    addressee, reason = self._addressee(s, v.env)
                if reason:
                    rejected.append((stream, node_id, entry_id, reason, fields))
                    counts[node_id][1] += 1
                    REJECTED_TOTAL.labels(node_id, reason.split(":")[0]).inc()
                    tally[f"rejected|{node_id}|{reason.split(':')[0]}"] += 1
                    continue
                node = nodes[node_id]
                assert v.env is not None and node is not None
                seen.add(v.env.event_id)
                guard.append((v.env.event_id, node_id, now))
                counts[node_id][0] += 1
                if addressee is not None:  # for another node: to its downward stream, unread
                    with hop_span(f"federation relay {v.env.type}", v.env, trace.SpanKind.CONSUMER,
                                  {"lotse.from_node": node_id, "lotse.to_node": addressee[0]}) as traced:
                        add_envelope(s, traced(v.env.model_copy(update={
                            "scope": "down", "target_node": addressee[0], "tenant": addressee[1]})),
                            down_stream(addressee[0]))
                elif v.env.type == NodeBoxKey.event_type:
                    key = NodeBoxKey.model_validate(v.env.payload).box_key
                    directory |= node.box_key != key
                    node.box_key = key
                elif v.env.type == NodeHeartbeat.event_type:
                    beat = NodeHeartbeat.model_validate(v.env.payload)
                    node.last_heartbeat_at, node.version = v.env.occurred_at, beat.version_string
                    node.relay_lag, node.outbox_backlog = beat.relay_lag, beat.outbox_backlog
                    node.dead_letters, node.silent_alerted = beat.dead_letters, False
                else:
                    with hop_span(f"federation ingest {v.env.type}", v.env, trace.SpanKind.CONSUMER,
                                  {"lotse.from_node": node_id}) as traced:
                        add_envelope(s, traced(v.env), stream_of(latest(v.env.type)))
            if directory or any(n is not None and n.box_key and n.listed != n.listing() for n in nodes.values()):
                self._send_directory(s)
            insert_rows(s, SEEN, ("event_id", "node_id", "received_at"), guard)  # one statement for the batch
            for node_id, (accepted, refused) in counts.items():
                node = nodes[node_id]
                if node is not None:
                    node.accepted += accepted
                    node.rejected += refused
                    s.add(node)
                ACCEPTED.labels(node_id).inc(accepted)
                if accepted:
                    tally[f"accepted|{node_id}"] += accepted
            s.commit()
        with self._tally_lock:
            self._tally.update(tally)
        return rejected

    def take_tally(self) -> collections.Counter[str]:
        """What was accepted and rejected since the last call: {"accepted|node", "rejected|node|reason": n}."""
        with self._tally_lock:
            tally, self._tally = self._tally, collections.Counter()
        return tally

    @staticmethod
    def _registered(s: Any, node_ids: set[str]) -> dict[str, RegisteredNode | None]:
        """The batch's nodes as registered now (None: not, or no longer), read in one query per 500."""
        ids, found = sorted(node_ids), {}
        for chunk in in_chunks(ids):
            q = select(RegisteredNode).where(RegisteredNode.node_id.in_(chunk))  # type: ignore[attr-defined]
            found.update({n.node_id: n for n in s.exec(q).scalars()})
        return {node_id: found.get(node_id) for node_id in ids}

    @staticmethod
    def _addressee(s: Any, env: Envelope) -> tuple[tuple[str, str] | None, str | None]:
        """(node, tenant) a relayed envelope goes to, or the reason it goes nowhere."""
        parcel = parse_payload(env)
        assert isinstance(parcel, Addressed)  # every relayed contract names its addressee
        to_node, to_tenant = parcel.to_node, parcel.to_tenant
        if parcel.from_tenant != env.tenant:
            return None, "misaddressed: from_tenant is not the envelope's tenant"
        target = s.get(RegisteredNode, to_node)
        if target is None or to_tenant not in target.tenants or to_node == env.node:
            return None, f"misaddressed: {to_tenant} is not served by another registered node {to_node}"
        return (to_node, to_tenant), None

    def _send_directory(self, s: Any) -> None:
        """Every municipal node with its key and municipalities, down to all nodes (in the caller's transaction)."""
        listed = [n for n in s.exec(select(RegisteredNode)).scalars() if n.box_key]  # type: ignore[call-overload]
        entries = [DirectoryEntry(node_id=n.node_id, tenants=list(n.tenants), box_key=n.box_key, sign_key=n.public_key)
                   for n in sorted(listed, key=lambda n: n.node_id)]
        for n in listed:
            n.listed = n.listing()
            s.add(n)
        emit(s, NodeDirectory(nodes=entries), stream=DOWN_ALL, tenant=STATE_TENANT, node=self.node_id,
             aggregate_id="directory", target_node="*")

    async def watch_silence(self) -> None:
        """A node silent longer than the threshold becomes one NodeSilent event (an operator alert)."""
        while not self._stopping:
            await asyncio.to_thread(self._alert_silent)
            await asyncio.sleep(min(10.0, self.silence_s / 3))

    def _alert_silent(self) -> None:
        now = utcnow()
        with self.db.session() as s:
            for node in s.exec(select(RegisteredNode)).scalars():  # type: ignore[call-overload]
                last = node.last_heartbeat_at or node.registered_at
                if last.tzinfo is None:
                    last = last.replace(tzinfo=now.tzinfo)
                silent = now - last
                if silent > timedelta(seconds=self.silence_s) and not node.silent_alerted:
                    emit(s, NodeSilent(node_id=node.node_id, silent_for_s=int(silent.total_seconds()),
                                       last_seen_at=node.last_heartbeat_at.isoformat()
                                       if node.last_heartbeat_at else None),
                         stream=STREAMS["federation"], tenant=STATE_TENANT, node=self.node_id,
                         aggregate_id=node.node_id)
                    node.silent_alerted = True
                    s.add(node)
            s.commit()

    def stop(self) -> None:
        self._stopping = True
