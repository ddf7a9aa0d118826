"""The state's federation API: the registry of municipal nodes with their health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlmodel import Session

from shared.events import utcnow
from shared.http import StateCaller, session_dependency

from . import registry
from .models import NodeStatus

router = APIRouter(prefix="/api/federation/v1", tags=["federation"])
SessionDep = Annotated[Session, session_dependency("federation")]


@router.get("/nodes", response_model=list[NodeStatus])
def nodes(_: StateCaller, session: SessionDep) -> list[NodeStatus]:
    """Every registered node with its last heartbeat and health."""
    return registry.node_statuses(session, now=utcnow())
