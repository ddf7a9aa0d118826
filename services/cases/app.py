"""The cases service as a node runs it: each level's tables, routes and subscriptions."""

from pathlib import Path

from shared.events import STREAMS
from shared.service import Level, ServiceSpec

from . import api, break_glass, consents, consumers, erasure, handover, models
from .state import api as state_api
from .state import consumers as state_consumers
from .state import models as state_models

# A municipal node's case files change through its API and the retention run; from the bus come only
# hand-overs between municipalities (services/cases/handover.py).
service = ServiceSpec(
    name="cases",
    municipal=Level(tables=[*models.TABLES, *consents.TABLES, *break_glass.TABLES, *erasure.TABLES,
                            *handover.TABLES],
                    router=api.router, background=erasure.background, subscriptions=consumers.subscriptions,
                    migrations=Path(__file__).parent / "migrations"),
    state=Level(tables=state_models.TABLES, router=state_api.router,
                subscriptions=state_consumers.subscriptions,
                migrations=Path(__file__).parent / "state" / "migrations"),
    stream=STREAMS["cases"],
)
