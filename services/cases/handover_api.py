"""HTTP routes of hand-overs between municipalities (the client moves): send, list, accept, decline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from . import handover
from .deps import ContextDep, Lead, LeadsCase, SessionDep
from .handover import Direction, DirectoryPublic, HandoverAnswer, HandoverPublic, HandoverRequest

# Included into the cases router (api.py): its prefix and its tag.
router = APIRouter()
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post("/cases/{case_id}/handovers", status_code=202, response_model=HandoverPublic)
def hand_over(body: HandoverRequest, case: LeadsCase, principal: Lead, session: SessionDep,
              ctx: ContextDep) -> HandoverPublic:
    """Hand an open case over to the municipality the client moves to (lead; needs the client's hand-over consent).

    The case file, its consultations and its plan travel sealed for the node serving `to_tenant` (from the
    state's node directory), through the state, which cannot read them (202). The case stays here until the
    receiving lead accepts: then it is closed as `transferred` and its personal data erased. 409 without the
    consent, for a closed case, or while a hand-over of it is under way; 422 when no other node serves
    `to_tenant`.
    """
    return handover.public(handover.hand_over(session, case=case, to_tenant=body.to_tenant, actor=principal.sub,
                                              settings=ctx.settings))


@router.get("/handovers", response_model=list[HandoverPublic])
def list_handovers(principal: Lead, session: SessionDep, ctx: ContextDep, direction: Direction = Direction.incoming,
                   limit: Limit = 50) -> list[HandoverPublic]:
    """The hand-overs into (`incoming`) or out of (`outgoing`) the lead's municipalities, newest first.

    An incoming one waiting for an answer names the client (names, birth date, how many consultations).
    """
    tenants = principal.tenants & set(ctx.settings.tenants)
    return [handover.public(h) for h in handover.handovers(session, direction=direction, tenants=tenants,
                                                           limit=limit)]


@router.get("/handover-directory", response_model=list[DirectoryPublic])
def list_directory(principal: Lead, session: SessionDep, ctx: ContextDep) -> list[DirectoryPublic]:
    """The municipalities of other nodes a case can be handed over to (the state's node directory)."""
    return handover.directory(session, own=ctx.node)


@router.post("/handovers/{handover_id}/accept", response_model=HandoverPublic)
def accept(handover_id: str, principal: Lead, session: SessionDep, ctx: ContextDep,
           body: HandoverAnswer | None = None) -> HandoverPublic:
    """Accept an incoming hand-over: the case opens here with its history and plan (in `manager`'s caseload,
    by default the lead's); the sending node then closes and erases it. 409 once it was answered."""
    found = handover.incoming(session, handover_id=handover_id, tenants=principal.tenants & set(ctx.settings.tenants))
    return handover.public(handover.accept(session, handover=found, actor=principal.sub,
                                           manager=body.manager if body else None, settings=ctx.settings))


@router.post("/handovers/{handover_id}/decline", response_model=HandoverPublic)
def decline(handover_id: str, principal: Lead, session: SessionDep, ctx: ContextDep) -> HandoverPublic:
    """Decline an incoming hand-over: its parcel is destroyed here and the sending node keeps the case."""
    found = handover.incoming(session, handover_id=handover_id, tenants=principal.tenants & set(ctx.settings.tenants))
    return handover.public(handover.decline(session, handover=found, actor=principal.sub, settings=ctx.settings))
