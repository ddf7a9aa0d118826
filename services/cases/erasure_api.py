"""HTTP routes of erasure (Art. 17 GDPR): a lead erases a closed case on request; the retention runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from shared.auth import Principal
from shared.http import requires

from . import erasure
from .deps import ContextDep, Lead, LeadsCase, SessionDep
from .erasure import ErasurePublic, ErasureRequest, ErasureRunPublic, ErasureRuns

# Included into the cases router (api.py): its prefix and its tag.
router = APIRouter()
# The retention runs hold no case contents: the node's operator sees them, and so do the leads.
RunReader = Annotated[Principal, requires("lead", "node_admin")]
Operator = Annotated[Principal, requires("node_admin")]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post("/cases/{case_id}/erase", status_code=202, response_model=ErasurePublic)
def erase_case(body: ErasureRequest, case: LeadsCase, principal: Lead, session: SessionDep,
               ctx: ContextDep) -> erasure.Erasure:
    """Erase a closed case's personal data on this node on the client's request, with the reason (lead only).

    The case file, its consultation notes, consents, break-glass reasons, the search terms that found it and
    its audit details go at once; its plan's texts and its notifications follow when the plans and notifications
    services have consumed CaseErased (202). What the figures count stays. 409 while the case is open: it is
    closed first.
    """
    return erasure.erase_case(session, case=case, actor=principal.sub, ground=erasure.Ground.request,
                              reason=body.reason, node=ctx.node)


@router.get("/erasures", response_model=list[ErasurePublic])
def list_erasures(principal: Lead, session: SessionDep, ctx: ContextDep, limit: Limit = 50) -> list[erasure.Erasure]:
    """The latest erasures in the lead's municipalities, newest first (no personal data of the clients)."""
    return erasure.erasures(session, tenants=principal.tenants & set(ctx.settings.tenants), limit=limit)


@router.get("/erasure-runs", response_model=ErasureRuns)
def list_runs(principal: RunReader, session: SessionDep, ctx: ContextDep, limit: Limit = 10) -> ErasureRuns:
    """The node's retention rule and its latest retention runs, newest first: when, what was due, how many erased."""
    return ErasureRuns(retention_years=ctx.settings.retention_case_years,
                       runs=[ErasureRunPublic.model_validate(r) for r in erasure.latest_runs(session, limit=limit)])


@router.post("/erasure-runs", status_code=201, response_model=ErasureRunPublic)
async def start_run(principal: Operator, ctx: ContextDep) -> erasure.ErasureRun:
    """Run the retention now (it also runs once a day by itself): erase every case whose retention has passed."""
    return await run_in_threadpool(erasure.run_retention, ctx.database, day=erasure.today(),
                                   years=ctx.settings.retention_case_years, tenants=list(ctx.settings.tenants),
                                   node=ctx.node)
