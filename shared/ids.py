"""Record and event ids: ULIDs, time-ordered so keyset pagination follows creation order."""

from __future__ import annotations

import os
import threading
import time

ULID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [_CROCKFORD[i >> 5] + _CROCKFORD[i & 31] for i in range(1024)]  # 10 bits -> two characters
_ids = threading.Lock()
_last: tuple[int, int, str] = (0, 0, "")  # milliseconds, randomness, the id they made


def _forget() -> None:
    global _last
    _last = (0, 0, "")


os.register_at_fork(after_in_child=_forget)  # a forked child draws its own randomness


def new_id() -> str:
    """A time-ordered, globally unique id for a new record or event: a ULID (48 bits of milliseconds, 80 random
    bits), monotonic within the process (an id in the same millisecond increments the last one's randomness).

    Written here because every event and record pays for it: python-ulid's generator took 6 µs, this 1.4 µs, and
    0.8 µs for the next id in the same millisecond (only its last two characters change, but one time in 1,024).
    """
    global _last
    ms = time.time_ns() // 1_000_000
    with _ids:
        last_ms, last_random, last_id = _last
        if ms > last_ms:
            randomness = int.from_bytes(os.urandom(10), "big")
        else:
            ms, randomness = last_ms, last_random + 1
            low = randomness & 1023
            if low:  # no carry out of the last ten bits: the id is the last one with its last two characters new
                _last = ms, randomness, last_id[:24] + _PAIRS[low]
                return _last[2]
            if randomness >> 80:  # 2^80 ids in one millisecond: borrow the next one
                ms, randomness = ms + 1, int.from_bytes(os.urandom(10), "big")
        p = _PAIRS
        prefix = last_id[:10] if ms == last_ms else (  # the milliseconds' ten characters
            _CROCKFORD[ms >> 45] + p[(ms >> 35) & 1023] + p[(ms >> 25) & 1023] + p[(ms >> 15) & 1023]
            + p[(ms >> 5) & 1023] + _CROCKFORD[ms & 31])
        r = randomness
        _last = ms, randomness, (prefix + p[r >> 70] + p[(r >> 60) & 1023] + p[(r >> 50) & 1023]
                                 + p[(r >> 40) & 1023] + p[(r >> 30) & 1023] + p[(r >> 20) & 1023]
                                 + p[(r >> 10) & 1023] + p[r & 1023])
        return _last[2]
