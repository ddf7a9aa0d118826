"""The plans service as a node runs it: tables, routes, subscriptions and its stream."""

from shared.events import STREAMS
from shared.service import ServiceSpec

from . import api, consumers
from .models import TABLES

service = ServiceSpec(
    name="plans",
    tables=TABLES,
    router=api.router,
    subscriptions=consumers.subscriptions,
    stream=STREAMS["plans"],
)
