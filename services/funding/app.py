"""The funding service as a node runs it: each level's tables, routes, subscriptions and migrations."""

from pathlib import Path

from shared.events import STREAMS
from shared.service import Level, ServiceSpec

from . import api, consumers, figures, models, proof
from .state import api as state_api
from .state import consumers as state_consumers
from .state import figures as state_figures
from .state import models as state_models

HERE = Path(__file__).parent

service = ServiceSpec(
    name="funding",
    municipal=Level(tables=[*models.TABLES, *figures.TABLES, *proof.TABLES], router=api.router,
                    subscriptions=consumers.subscriptions, migrations=HERE / "migrations"),
    state=Level(tables=[*state_models.TABLES, *state_figures.TABLES], router=state_api.router,
                subscriptions=state_consumers.subscriptions, migrations=HERE / "state" / "migrations"),
    stream=STREAMS["funding"],
)
