"""What the state-level cases routes get from dependencies: the unit of work."""

from __future__ import annotations

from typing import Annotated

from sqlmodel import Session

from shared.http import session_dependency

SessionDep = Annotated[Session, session_dependency("cases")]
