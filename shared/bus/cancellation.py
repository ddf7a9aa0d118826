"""Retry loops must still stop when their task is cancelled."""

import asyncio


def raise_if_cancelled() -> None:
    """redis-py may report a cancelled command as a connection error: stop retrying when cancelled."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
