"""The programme's rules for a case: who may be counselled, and for how long (the counselling clock)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from shared.errors import Conflict, InvalidInput
from shared.events.codes import Eligibility

from .models import Case, HouseholdMember

YEARS = 3  # counselling ends three years after the first consultation
EXTENDED_YEARS = 4  # … or four, once a lead extended it with a justification
# Temporary protection for people displaced from Ukraine: Council Implementing Decision (EU) 2022/382.
TEMPORARY_PROTECTION_SINCE = date(2022, 3, 4)


class CounsellingConflict(Conflict):
    """The counselling clock does not allow this: it has ended, not started, or was already extended."""


def years_after(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def eligible_since(*, eligibility: Eligibility, eligible_since: date | None,
                   accommodation_since: date | None) -> date:
    """The date the client became eligible; a case that fits neither group is refused naming the field."""
    if eligibility == Eligibility.follow_up_accommodation:
        if accommodation_since is None:
            raise InvalidInput("accommodation_since", "required when eligibility is follow_up_accommodation: "
                                                      "the date the client moved into follow-up accommodation")
        return eligible_since or accommodation_since
    if eligible_since is None:
        raise InvalidInput("eligible_since", "required when eligibility is temporary_protection_ukraine: "
                                             "the date temporary protection (§ 24 AufenthG) was granted")
    if eligible_since < TEMPORARY_PROTECTION_SINCE:
        raise InvalidInput("eligible_since", f"must not be before {TEMPORARY_PROTECTION_SINCE.isoformat()}, "
                                             "when temporary protection for people from Ukraine began")
    return eligible_since


def check_household(members: Sequence[HouseholdMember], household_size: int) -> None:
    """Members counselled alongside live in the client's household: at most household_size - 1 of them."""
    if len(members) > household_size - 1:
        raise InvalidInput("household_members", f"must not list more people than the household has besides "
                                                f"the client (household_size - 1 = {household_size - 1})")


def check_household_size(case: Case, household_size: int) -> None:
    """A smaller household must still hold the members counselled alongside."""
    if len(case.household_members) > household_size - 1:
        raise InvalidInput("household_size", f"must be at least {len(case.household_members) + 1}: "
                                             "the client and the household members counselled alongside")


def counselling_end(case: Case, first: date) -> date:
    """When counselling ends for a case whose first consultation was on `first`."""
    return years_after(first, EXTENDED_YEARS if case.counselling_extended_on else YEARS)


def moved_clock(case: Case, held_on: date) -> date | None:
    """The clock's new end if a consultation held on `held_on` starts (or moves) it; refused once it ended."""
    first = case.first_consultation_on
    starts = first is None or held_on < first
    ends = counselling_end(case, held_on if starts else first)  # type: ignore[arg-type]
    if held_on > ends:
        raise CounsellingConflict(
            f"counselling ended on {ends.isoformat()}: "
            + ("it was already extended to four years" if case.counselling_extended_on
               else "a lead may extend it once to four years, with a justification"))
    if starts:
        case.first_consultation_on, case.counselling_ends_on = held_on, ends
        return ends
    return None


def extend(case: Case, *, justification: str, today: date) -> date:
    """Extend the clock once to four years after the first consultation; a second time is refused."""
    if case.counselling_extended_on is not None:
        raise CounsellingConflict(
            f"counselling was already extended on {case.counselling_extended_on.isoformat()} "
            f"(to {case.counselling_ends_on}): it can be extended only once")
    if case.first_consultation_on is None:
        raise CounsellingConflict("no consultation recorded yet: the counselling clock starts with the first one")
    case.counselling_extended_on, case.extension_justification = today, justification
    case.counselling_ends_on = counselling_end(case, case.first_consultation_on)
    return case.counselling_ends_on
