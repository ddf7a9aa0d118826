"""Record and event ids: valid ULIDs, unique and ordered within a process, also across threads and forks."""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from ulid import ULID

from shared import ids
from shared.ids import ULID_PATTERN, new_id


def test_ids_are_ulids_of_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    ids = [new_id() for _ in range(2_000)]
    for i in ids:
        assert re.match(ULID_PATTERN, i)
        assert str(ULID.from_str(i)) == i  # the reference implementation reads and writes it alike
    assert before <= ULID.from_str(ids[-1]).datetime <= datetime.now(UTC)


def test_ids_in_one_millisecond_stay_ordered_and_unique() -> None:
    ids = [new_id() for _ in range(50_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stamps = [ULID.from_str(i).milliseconds for i in ids]
    assert len(set(stamps)) < len(ids)  # several per millisecond: ordered by the incremented randomness


def test_ids_from_threads_are_unique() -> None:
    with ThreadPoolExecutor(4) as pool:
        batches = list(pool.map(lambda _: [new_id() for _ in range(5_000)], range(8)))
    every = [i for batch in batches for i in batch]
    assert len(set(every)) == len(every)
    assert all(batch == sorted(batch) for batch in batches)


def test_a_forked_child_draws_its_own_randomness() -> None:
    new_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first id in the same millisecond must not continue the parent's sequence
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    mine = new_id()
    theirs = os.read(read, 26).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert theirs != mine
    assert abs(ULID.from_str(theirs).milliseconds - time.time_ns() // 1_000_000) < 10_000


def test_the_next_id_in_a_millisecond_is_the_last_plus_one_also_across_a_carry(monkeypatch: pytest.MonkeyPatch) -> None:
    """An id in the same millisecond rewrites only its last two characters, unless the increment carries further."""
    now = time.time_ns()
    monkeypatch.setattr(time, "time_ns", lambda: now)  # one millisecond for every id below
    first = new_id()
    # jump to just before a carry out of the last ten bits, then out of the last twenty
    for low_bits in (1020, 1024 * 1024 - 3):
        ms, randomness, _ = ids._last
        randomness = (randomness >> 20 << 20) | low_bits
        monkeypatch.setattr(ids, "_last", (ms, randomness, str(ULID.from_int((ms << 80) | randomness))))
        value = (ms << 80) | randomness
        for _ in range(8):
            value += 1
            assert int(ULID.from_str(new_id())) == value
    assert ULID.from_str(new_id()).milliseconds == ULID.from_str(first).milliseconds
