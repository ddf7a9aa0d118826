"""Rate limits per caller on what is expensive or guessable: sign-in, statistics, exports, search.

A token bucket per caller (the token's subject; before sign-in, the client address): `burst` requests
at once, refilled at `per_minute`; past it, 429 with Retry-After. In-process: each node process counts
its own callers, which bounds what one caller costs that process.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.runtime.guard import PRINCIPAL, answer

# (method, path) of what is limited: the web app's sign-in form and the API's expensive reads.
LIMITED = [
    ("POST", re.compile(r"^/login$")),
    (None, re.compile(r"^/api/[^/]+/v\d+/(.*/)?(statistics|exports?|search)(/|$)")),
]
MAX_CALLERS = 10_000  # past this many buckets, the full (idle) ones are forgotten


@dataclass
class Bucket:
    tokens: float
    at: float


class RateLimit:
    """429 with Retry-After for a caller past its budget on a limited route."""

    def __init__(self, app: ASGIApp, *, per_minute: float, burst: int) -> None:
        self.app = app
        self.rate, self.burst = per_minute / 60.0, float(burst)
        self.buckets: dict[str, Bucket] = {}

    @staticmethod
    def limited(scope: Scope) -> bool:
        if any((method is None or scope["method"] == method) and pattern.match(scope["path"])
               for method, pattern in LIMITED):
            return True
        # A list searched by name (`?q=`, e.g. the caseload) is a search too.
        return scope["path"].startswith("/api/") and any(
            part.split(b"=", 1)[0] == b"q" for part in scope.get("query_string", b"").split(b"&"))

    def caller(self, scope: Scope) -> str:
        principal = scope.get("state", {}).get(PRINCIPAL)
        if principal is not None:
            return f"sub:{principal.sub}"
        return f"addr:{(scope.get('client') or ('unknown',))[0]}"

    def wait(self, key: str) -> float:
        """Take a token: 0 if there was one, else the seconds until there is."""
        now = time.monotonic()
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= MAX_CALLERS:
                self.forget_full(now)
            bucket = self.buckets[key] = Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def forget_full(self, now: float) -> None:
        for key, bucket in list(self.buckets.items()):
            if bucket.tokens + (now - bucket.at) * self.rate >= self.burst:
                del self.buckets[key]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.limited(scope):
            wait = self.wait(self.caller(scope))
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                await answer(send, 429, {"detail": f"too many requests: try again in {seconds} s"},
                             [(b"retry-after", str(seconds).encode())])
                return
        await self.app(scope, receive, send)
