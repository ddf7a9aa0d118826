"""Hand-over of a case to another municipality when the client moves (with the client's consent).

The sending lead hands the case over to a municipality found in the node directory the state sends down
(NodeDirectory). The case file and its history travel sealed for the receiving node (CaseHandedOver; the plan
follows from the plans service, PlanHandedOver), through the state, which relays them unread. The receiving
node keeps the parcel sealed at rest until its lead accepts (the case opens there) or declines; the answer
(HandoverAnswered) travels back, and on an acceptance the sending node closes its case as `transferred` and
erases its personal data. A parcel that does not open for this node, is not signed by the sending node's key
from the directory, names another hand-over, or arrives a second time is refused; both sides audit every step.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, Column, String
from sqlmodel import Field, Session, SQLModel, col, select

from shared import clock
from shared.bus.outbox import emit
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import STREAMS, Envelope, utcnow
from shared.events.cases import CaseOpened
from shared.events.codes import CloseReason, Relation
from shared.events.handover import CaseHandedOver, DirectoryEntry, HandoverAnswered, HandoverStarted
from shared.federation.boxes import ParcelRefused, label, node_box_key, open_parcel, seal
from shared.federation.crypto import node_signing_key
from shared.fields import Ags
from shared.ids import new_id
from shared.privacy import AGS_CODE, CODE, ID, NODE_ID, TIMESTAMP, DataClass, Personal, Retention, personal
from shared.sealing import sealed, shred_after_commit
from shared.settings import Settings

from . import consents, erasure
from .consents import ConsentPurpose
from .models import AuditAction, Case, CaseStatus, Consultation
from .service import _announce_clock, _emit, audit, close_case

log = logging.getLogger(__name__)
ANSWERER = "handover"  # who closes and erases the sending node's case on the receipt
PART = "case"


class Direction(StrEnum):
    outgoing = "outgoing"
    incoming = "incoming"


class HandoverStatus(StrEnum):
    """sent (out) / received (in, sealed, waiting for the lead); accepted or declined; refused (a bad parcel)."""

    sent = "sent"
    received = "received"
    accepted = "accepted"
    declined = "declined"
    refused = "refused"


class DirectoryNode(SQLModel, table=True):
    """A municipal node as the state's directory lists it: the municipalities it serves and its public key."""

    __tablename__ = "cases_directory"
    __not_personal__ = {"node_id": NODE_ID, "tenants": AGS_CODE, "box_key": "a node's public X25519 key",
                        "sign_key": "a node's public Ed25519 key", "updated_at": TIMESTAMP}

    node_id: str = Field(primary_key=True, max_length=63)
    tenants: list[str] = Field(sa_column=Column(JSON, nullable=False))
    box_key: str = Field(max_length=100)  # parcels for it are sealed with it
    sign_key: str = Field(max_length=100)  # its parcels are signed with it
    updated_at: datetime = Field(default_factory=utcnow)


@sealed
class Handover(SQLModel, table=True):
    """One hand-over as either side keeps it; the receiving side's parcel sealed at rest until it is answered."""

    __tablename__ = "cases_handover"
    __subject__ = "id"
    __not_personal__ = {"id": ID, "direction": CODE, "case_id": ID, "from_node": NODE_ID, "from_tenant": AGS_CODE,
                        "to_node": NODE_ID, "to_tenant": AGS_CODE, "status": CODE, "refusal": CODE,
                        "created_at": TIMESTAMP, "answered_at": TIMESTAMP}
    __personal__ = {"package": Personal(DataClass.identity, "handing the case over (consent)", Retention.case,
                                        encrypted=True)}

    id: str = Field(primary_key=True, max_length=26)
    direction: Direction = Field(sa_type=String(10))
    # outgoing: the case handed over; incoming: the case opened on acceptance
    case_id: str | None = Field(default=None, index=True, max_length=26)
    from_node: str = Field(max_length=63)
    from_tenant: str = Field(index=True, max_length=8)
    to_node: str = Field(max_length=63)
    to_tenant: str = Field(index=True, max_length=8)
    status: HandoverStatus = Field(sa_type=String(10))
    requested_by: str | None = personal(DataClass.staff, "who handed the case over", Retention.staff,
                                        default=None, max_length=255)
    answered_by: str | None = personal(DataClass.staff, "who accepted or declined", Retention.staff,
                                       default=None, max_length=255)
    refusal: str | None = Field(default=None, max_length=200)  # why a parcel was refused (no personal data)
    package: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    answered_at: datetime | None = None


TABLES = [DirectoryNode.__table__, Handover.__table__]  # type: ignore[attr-defined]


# -- API schemas ------------------------------------------------------------------------------
class HandoverRequest(BaseModel):
    """Body of POST /cases/{id}/handovers: the municipality (AGS) the client moves to."""

    model_config = ConfigDict(extra="forbid")

    to_tenant: Ags


class HandoverAnswer(BaseModel):
    """Body of POST /handovers/{id}/accept: whose caseload the case opens in (default: the accepting lead's)."""

    model_config = ConfigDict(extra="forbid")

    manager: str | None = pydantic.Field(default=None, min_length=1, max_length=255)


class HandoverClient(BaseModel):
    """Whom an incoming hand-over is about, for the receiving lead's decision."""

    given_name: str
    family_name: str
    birth_date: date
    consultations: int


class HandoverPublic(BaseModel):
    """A hand-over as a lead sees it."""

    id: str
    direction: Direction
    case_id: str | None
    from_node: str
    from_tenant: str
    to_node: str
    to_tenant: str
    status: HandoverStatus
    refusal: str | None
    created_at: datetime
    answered_at: datetime | None
    client: HandoverClient | None = None  # incoming and not yet answered only


class DirectoryPublic(BaseModel):
    """A municipality a case can be handed over to, and the node serving it."""

    tenant: str
    node_id: str


def public(handover: Handover) -> HandoverPublic:
    client = None
    if handover.package and handover.status == HandoverStatus.received:
        file = handover.package["case"]
        client = HandoverClient(given_name=file["given_name"], family_name=file["family_name"],
                                birth_date=file["birth_date"], consultations=len(handover.package["consultations"]))
    return HandoverPublic(id=handover.id, direction=handover.direction, case_id=handover.case_id,
                          from_node=handover.from_node, from_tenant=handover.from_tenant, to_node=handover.to_node,
                          to_tenant=handover.to_tenant, status=handover.status, refusal=handover.refusal,
                          created_at=handover.created_at, answered_at=handover.answered_at, client=client)


# -- the directory ----------------------------------------------------------------------------
def store_directory(session: Session, nodes: list[DirectoryEntry]) -> None:
    """Keep the state's latest directory (it lists every node with a key: an absent one left)."""
    listed = {n.node_id: n for n in nodes}
    for row in session.exec(select(DirectoryNode)).all():
        if row.node_id not in listed:
            session.delete(row)
    for entry in nodes:
        row = session.get(DirectoryNode, entry.node_id) or DirectoryNode(
            node_id=entry.node_id, tenants=[], box_key=entry.box_key, sign_key=entry.sign_key)
        row.tenants, row.box_key, row.sign_key = list(entry.tenants), entry.box_key, entry.sign_key
        row.updated_at = utcnow()
        session.add(row)


def directory(session: Session, *, own: str) -> list[DirectoryPublic]:
    """The municipalities of other nodes a case can be handed over to."""
    return sorted((DirectoryPublic(tenant=t, node_id=n.node_id) for n in session.exec(select(DirectoryNode)).all()
                   if n.node_id != own for t in n.tenants), key=lambda d: d.tenant)


def _node_serving(session: Session, tenant: str, *, own: str) -> DirectoryNode:
    for node in session.exec(select(DirectoryNode)).all():
        if tenant in node.tenants and node.node_id != own:
            return node
    raise InvalidInput("to_tenant", "no other node in the state's directory serves this municipality")


# -- sending ----------------------------------------------------------------------------------
def package_of(session: Session, case: Case) -> dict[str, Any]:
    """Everything the receiving municipality needs to go on: the case file, its consultations, its consents."""
    file = {name: getattr(case, name) for name in (
        "given_name", "family_name", "birth_date", "nationality", "languages", "household_size", "household_members",
        "eligibility", "eligible_since", "accommodation_since", "first_consultation_on", "counselling_ends_on",
        "counselling_extended_on", "extension_justification", "opened_on")}
    held = session.exec(select(Consultation).where(Consultation.case_id == case.id)
                        .order_by(col(Consultation.held_on), col(Consultation.id))).all()
    return pydantic.TypeAdapter(dict[str, Any]).dump_python({
        "case": file,
        "consultations": [{"held_on": c.held_on, "duration_minutes": c.duration_minutes, "mode": c.mode,
                           "topics": list(c.topics), "note": c.note} for c in held],
        "consents": [{"purpose": c.purpose, "partner": c.partner, "given_on": c.given_on, "form": c.form}
                     for c in consents.consents_of(session, case_id=case.id) if c.withdrawn_on is None],
    }, mode="json")


def hand_over(session: Session, *, case: Case, to_tenant: str, actor: str, settings: Settings) -> Handover:
    """Seal the case for the node serving `to_tenant` and send it (202); the case stays until the receipt."""
    if case.status != CaseStatus.open:
        raise Conflict("the case is closed: only an open case is handed over")
    if to_tenant in settings.tenants:
        raise InvalidInput("to_tenant", "this node serves that municipality already: reassign the case instead")
    consents.require_consent(session, case=case, purpose=ConsentPurpose.handover)
    pending = session.exec(select(Handover.id).where(Handover.case_id == case.id, Handover.status ==
                                                     HandoverStatus.sent)).first()
    if pending is not None:
        raise Conflict(f"the case is being handed over already (hand-over {pending})")
    target = _node_serving(session, to_tenant, own=settings.node_id)
    handover = Handover(id=new_id(), direction=Direction.outgoing, case_id=case.id, from_node=settings.node_id,
                        from_tenant=case.tenant, to_node=target.node_id, to_tenant=to_tenant,
                        status=HandoverStatus.sent, requested_by=actor[:255])
    session.add(handover)
    parcel = seal(node_signing_key(settings.data_dir), target.box_key,
                  label(handover.id, PART, settings.node_id, target.node_id), package_of(session, case))
    audit(session, actor=actor, action=AuditAction.handover, case=case, detail=f"to {to_tenant} {handover.id}")
    address = {"handover_id": handover.id, "from_tenant": case.tenant, "to_node": target.node_id,
               "to_tenant": to_tenant}
    emit(session, CaseHandedOver(**address, sealed=parcel), stream=STREAMS["cases"], tenant=case.tenant,
         node=settings.node_id, aggregate_id=handover.id)
    _emit(session, case, HandoverStarted(case_id=case.id, box_key=target.box_key, **address), settings.node_id)
    return handover


def on_answer(session: Session, env: Envelope, answer: HandoverAnswered, settings: Settings) -> None:
    """The receiving lead's answer: on an acceptance the case closes as transferred and its data is erased."""
    handover = session.get(Handover, answer.handover_id, with_for_update=True)
    if handover is None or handover.direction != Direction.outgoing or handover.to_node != env.node:
        log.warning("ignoring an answer to hand-over %s from %s: not one this node sent there",
                    answer.handover_id, env.node)
        return
    if handover.status != HandoverStatus.sent:
        log.warning("ignoring a second answer to hand-over %s", handover.id)
        return
    handover.status = HandoverStatus.accepted if answer.accepted else HandoverStatus.declined
    handover.answered_at = utcnow()
    session.add(handover)
    case = session.get(Case, handover.case_id, with_for_update=True) if handover.case_id else None
    if case is None or case.erased_on is not None:
        return
    audit(session, actor=ANSWERER, action=AuditAction.handover_answered, case=case,
          detail=f"{handover.status} {handover.id}")
    if not answer.accepted:
        return
    if case.status == CaseStatus.open:
        close_case(session, case=case, reason=CloseReason.transferred, actor=ANSWERER, node=settings.node_id)
    erasure.erase_case(session, case=case, actor=ANSWERER, ground=erasure.Ground.handover,
                       reason=f"handed over to {handover.to_tenant} ({handover.id})", node=settings.node_id)


# -- receiving --------------------------------------------------------------------------------
def on_parcel(session: Session, env: Envelope, parcel: CaseHandedOver, settings: Settings) -> None:
    """A case sealed for this node: kept sealed until a lead answers; a bad or repeated parcel is refused."""
    if parcel.to_tenant not in settings.tenants or parcel.to_node != settings.node_id:
        log.warning("ignoring hand-over %s addressed to %s/%s", parcel.handover_id, parcel.to_node, parcel.to_tenant)
        return
    if session.get(Handover, parcel.handover_id) is not None:
        log.warning("refused hand-over %s from %s: it arrived before (a replay)", parcel.handover_id, env.node)
        return
    handover = Handover(id=parcel.handover_id, direction=Direction.incoming, from_node=env.node,
                        from_tenant=parcel.from_tenant, to_node=parcel.to_node, to_tenant=parcel.to_tenant,
                        status=HandoverStatus.received)
    sender = session.get(DirectoryNode, env.node)
    try:
        if sender is None or parcel.from_tenant not in sender.tenants:
            raise ParcelRefused(f"the directory lists no node {env.node} serving {parcel.from_tenant}")
        handover.package = open_parcel(node_box_key(settings.data_dir), sender.sign_key,
                                       label(parcel.handover_id, PART, env.node, settings.node_id), parcel.sealed)
        _check_package(handover.package)
    except ParcelRefused as exc:
        log.warning("refused hand-over %s from %s: %s", parcel.handover_id, env.node, exc)
        handover.status, handover.refusal, handover.package = HandoverStatus.refused, str(exc)[:200], None
    session.add(handover)


def _check_package(package: dict[str, Any]) -> None:
    try:
        file = package["case"]
        for name in ("given_name", "family_name", "nationality"):
            assert isinstance(file[name], str)
        date.fromisoformat(file["birth_date"])
        assert isinstance(package["consultations"], list)
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise ParcelRefused(f"the parcel's case file is incomplete ({type(exc).__name__})") from None


def incoming(session: Session, *, handover_id: str, tenants: set[str] | frozenset[str]) -> Handover:
    handover = session.get(Handover, handover_id, with_for_update=True)
    if handover is None or handover.direction != Direction.incoming or handover.to_tenant not in tenants:
        raise NotFound("hand-over not found")
    if handover.status != HandoverStatus.received:
        raise Conflict(f"the hand-over was {handover.status} already")
    return handover


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def accept(session: Session, *, handover: Handover, actor: str, manager: str | None, settings: Settings) -> Handover:
    """Open the case here with its history (CaseOpened) and answer the sending node, which then erases it."""
    package = handover.package or {}
    file = package["case"]
    case = Case(id=new_id(), tenant=handover.to_tenant, manager=(manager or actor)[:255], status=CaseStatus.open,
                given_name=file["given_name"], family_name=file["family_name"],
                birth_date=date.fromisoformat(file["birth_date"]), nationality=file["nationality"],
                languages=list(file["languages"]), household_size=int(file["household_size"]),
                household_members=list(file["household_members"]), eligibility=file["eligibility"],
                eligible_since=date.fromisoformat(file["eligible_since"]),
                accommodation_since=_day(file["accommodation_since"]), opened_on=clock.today(),
                first_consultation_on=_day(file["first_consultation_on"]),
                counselling_ends_on=_day(file["counselling_ends_on"]),
                counselling_extended_on=_day(file["counselling_extended_on"]),
                extension_justification=file["extension_justification"])
    session.add(case)
    session.add_all([Consultation(id=new_id(), case_id=case.id, held_on=date.fromisoformat(c["held_on"]),
                                  duration_minutes=c["duration_minutes"], mode=c["mode"], topics=list(c["topics"]),
                                  note=c["note"], recorded_by=f"handover:{handover.from_tenant}")
                     for c in package["consultations"]])
    session.flush()
    for c in package.get("consents", []):
        consents.record_consent(session, case=case, purpose=ConsentPurpose(c["purpose"]),
                                given_on=date.fromisoformat(c["given_on"]), form=consents.ConsentForm(c["form"]),
                                partner=c["partner"], actor=actor)
    audit(session, actor=actor, action=AuditAction.handover_accepted, case=case,
          detail=f"from {handover.from_tenant} {handover.id}")
    members = Counter(Relation(m["relation"]) for m in case.household_members)
    _emit(session, case, CaseOpened(case_id=case.id, manager=case.manager, opened_on=case.opened_on,
                                    household_size=case.household_size, eligibility=case.eligibility,
                                    household_members=members), settings.node_id)
    if case.counselling_ends_on is not None:  # the programme's clock goes on where it was
        _announce_clock(session, case, settings.node_id)
    return _answer(session, handover, actor=actor, accepted=True, case=case, settings=settings)


def decline(session: Session, *, handover: Handover, actor: str, settings: Settings) -> Handover:
    """Decline: the parcel is destroyed here, and the sending node keeps its case."""
    return _answer(session, handover, actor=actor, accepted=False, case=None, settings=settings)


def _answer(session: Session, handover: Handover, *, actor: str, accepted: bool, case: Case | None,
            settings: Settings) -> Handover:
    handover.status = HandoverStatus.accepted if accepted else HandoverStatus.declined
    handover.case_id = case.id if case else None
    handover.package, handover.answered_by, handover.answered_at = None, actor[:255], utcnow()
    session.add(handover)
    shred_after_commit(session, [handover.id])  # the parcel's copy in older backups goes with its key
    sender = session.get(DirectoryNode, handover.from_node)
    emit(session, HandoverAnswered(handover_id=handover.id, from_tenant=handover.to_tenant,
                                   to_node=handover.from_node, to_tenant=handover.from_tenant, accepted=accepted,
                                   case_id=case.id if case else None,
                                   sender_sign_key=sender.sign_key if sender else None),
         stream=STREAMS["cases"], tenant=handover.to_tenant, node=settings.node_id, aggregate_id=handover.id)
    return handover


def handovers(session: Session, *, direction: Direction, tenants: set[str] | frozenset[str],
              limit: int) -> list[Handover]:
    """The hand-overs into or out of these municipalities, newest first."""
    if not tenants:
        return []
    column = Handover.to_tenant if direction == Direction.incoming else Handover.from_tenant
    return list(session.exec(select(Handover).where(Handover.direction == direction, col(column).in_(sorted(tenants)))
                             .order_by(col(Handover.created_at).desc(), col(Handover.id).desc()).limit(limit)).all())
