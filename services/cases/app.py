"""The cases service as a node runs it: tables, routes and the stream it produces to."""

from shared.events import STREAMS
from shared.service import ServiceSpec

from . import api, consumers
from .models import TABLES

service = ServiceSpec(
    name="cases",
    tables=TABLES,
    router=api.router,
    subscriptions=consumers.subscriptions,
    stream=STREAMS["cases"],
)
