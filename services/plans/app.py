"""The plans service as a node runs it: each level's tables, routes, subscriptions and migrations."""

from pathlib import Path

from shared.events import STREAMS
from shared.service import Level, ServiceSpec

from . import api, consumers, erasure, handover, models
from .state import api as state_api
from .state import consumers as state_consumers
from .state import models as state_models

service = ServiceSpec(
    name="plans",
    municipal=Level(tables=[*models.TABLES, *handover.TABLES], router=api.router,
                    subscriptions=consumers.subscriptions, background=erasure.background,
                    migrations=Path(__file__).parent / "migrations"),
    state=Level(tables=state_models.TABLES, router=state_api.router,
                subscriptions=state_consumers.subscriptions,
                migrations=Path(__file__).parent / "state" / "migrations"),
    stream=STREAMS["plans"],
)
