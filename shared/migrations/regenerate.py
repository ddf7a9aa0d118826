"""Re-create every history's first revision from the models: `python -m shared.migrations.regenerate`.

Only while a history has no other revisions (they would build on the old first one).
"""

from __future__ import annotations

import sys

from .errors import MigrationError
from .history import all_histories, script_of
from .runner import revision

INITIAL = "0001"


def regenerate() -> None:
    histories = all_histories()
    for history in histories:
        if history.location.is_dir():
            later = [s.revision for s in script_of(history).walk_revisions() if s.revision != INITIAL]
            if later:
                raise MigrationError(f"{history.name}: has revisions after {INITIAL} ({', '.join(later)}); "
                                     "add a new revision with `lotse db revision` instead")
    for history in histories:
        for old in history.location.glob(f"{INITIAL}_*.py"):
            old.unlink()
        path = revision(history, "initial schema", rev_id=INITIAL)
        print(f"{history.name:<22} {path}")


if __name__ == "__main__":
    try:
        regenerate()
    except MigrationError as exc:
        sys.exit(f"regenerate: {exc}")
