"""HTTP routes of the client's data-protection rights on a case: consents, information, break-glass, export."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from shared.http import sees_its_record
from shared.ids import ULID_PATTERN

from . import access_export, break_glass, consents
from .access_export import AccessExport
from .break_glass import BreakGlassGrant, BreakGlassPublic, BreakGlassRequest
from .consents import (
    Consent,
    ConsentCreate,
    ConsentPublic,
    ConsentsPublic,
    ConsentWithdrawal,
    InformationSheet,
    InformationSheetCreate,
    InformationSheetPublic,
)
from .deps import AuditedCase, Caller, CaseToChange, ContextDep, CurrentCase, SessionDep, StandInCase

# Included into the cases router (api.py): its prefix and its tag.
router = APIRouter()


@router.get("/cases/{case_id}/consents", response_model=ConsentsPublic)
def read_consents(case: CurrentCase, principal: Caller, session: SessionDep) -> ConsentsPublic:
    """The information sheets handed over and the consents given (withdrawn ones too), oldest first."""
    return consents.read_consents(session, case=case, actor=principal.sub)


@router.post("/cases/{case_id}/information-sheets", status_code=201, response_model=InformationSheetPublic)
def record_information(body: InformationSheetCreate, case: CaseToChange, principal: Caller,
                       session: SessionDep) -> InformationSheet:
    """Record that the data-protection information sheet was handed to the client, and in which language."""
    return consents.record_information(session, case=case, handed_on=body.handed_on, language=body.language,
                                       actor=principal.sub)


@router.post("/cases/{case_id}/consents", status_code=201, response_model=ConsentPublic)
def record_consent(body: ConsentCreate, case: CaseToChange, principal: Caller, session: SessionDep) -> ConsentPublic:
    """Record a consent the client gave for a purpose (`partner` names the service for partner_sharing)."""
    return consents.public(consents.record_consent(
        session, case=case, purpose=body.purpose, given_on=body.given_on, form=body.form, partner=body.partner,
        actor=principal.sub))


@router.post("/cases/{case_id}/consents/{consent_id}/withdraw", response_model=ConsentPublic)
def withdraw_consent(consent_id: Annotated[str, Path(max_length=26, pattern=ULID_PATTERN)], case: CaseToChange,
                     principal: Caller, session: SessionDep, body: ConsentWithdrawal | None = None) -> ConsentPublic:
    """Record that the client withdrew a consent; it no longer counts from `withdrawn_on` (default today)."""
    consent: Consent = consents.withdraw_consent(
        session, case=case, consent_id=consent_id, withdrawn_on=body.withdrawn_on if body else None,
        actor=principal.sub)
    return consents.public(consent)


@router.post("/cases/{case_id}/break-glass", status_code=201, response_model=BreakGlassPublic)
def open_break_glass(body: BreakGlassRequest, case: StandInCase, principal: Caller, session: SessionDep,
                     ctx: ContextDep) -> BreakGlassGrant:
    """A manager standing in for a colleague opens a case of their municipality outside their caseload, with a
    reason, for LOTSE_BREAK_GLASS_HOURS; each access is marked in the audit trail and the lead is notified."""
    return break_glass.open_grant(session, case=case, manager=principal.sub, reason=body.reason,
                                  hours=ctx.settings.break_glass_hours, node=ctx.node)


@router.get("/cases/{case_id}/break-glass", response_model=list[BreakGlassPublic])
def read_break_glass(case: AuditedCase, principal: Caller, session: SessionDep) -> list[BreakGlassGrant]:
    """The case's break-glass grants with their reasons, oldest first (for the lead; read like the audit trail)."""
    return break_glass.read_grants(session, case=case, actor=principal.sub)


@router.get("/cases/{case_id}/export", response_model=AccessExport,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "everything held about the client: JSON, or with format=pdf a German PDF"}})
@sees_its_record()
def export_case(case: AuditedCase, principal: Caller, session: SessionDep, ctx: ContextDep,
                format: Annotated[Literal["json", "pdf"], Query()] = "json") -> AccessExport | Response:
    """An access request (Art. 15 GDPR), for the lead: everything the cases service holds about the client,
    with who accessed the file and when (this export included); the plan is the plans service's part."""
    answer = access_export.export(session, case=case, actor=principal.sub, node=ctx.node)
    if format == "pdf":
        return Response(access_export.printed(answer), media_type="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="auskunft-{case.id}.pdf"'})
    return answer
