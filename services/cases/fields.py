"""Field types of the cases API's bodies: names, dates, codes, each refusing with the reason."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, TypeVar

import pydantic
from pydantic import AfterValidator, StringConstraints

from shared import clock
from shared.fields import IsoDate

NAME_MAX = 100

T = TypeVar("T")


def _not_future(value: date) -> date:
    if value > clock.today():
        raise ValueError("must not be in the future")
    return value


def _printable(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


def _matching(pattern: str, reason: str) -> Callable[[str], str]:
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise ValueError(reason)
        return value

    return check


def unique(what: str) -> Callable[[list[T]], list[T]]:
    def check(values: list[T]) -> list[T]:
        if len(set(values)) != len(values):
            raise ValueError(f"must not name a {what} twice")
        return values

    return check


PastDate = Annotated[IsoDate, AfterValidator(_not_future)]
# json_schema_extra: the API document states what the validators check (their messages stay the node's).
PRINTABLE = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"  # not blank, no control characters
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    pydantic.Field(strict=True, json_schema_extra={"pattern": PRINTABLE}),
    AfterValidator(_printable),
]
Nationality = Annotated[str, pydantic.Field(strict=True, max_length=3, json_schema_extra={"pattern": "^[A-Z]{3}$"}),
                        AfterValidator(_matching(
    "[A-Z]{3}", "must be an ISO 3166-1 alpha-3 code (3 capital letters), or XXX if unknown"))]
Language = Annotated[str, pydantic.Field(strict=True, max_length=3, json_schema_extra={"pattern": "^[a-z]{2,3}$"}),
                     AfterValidator(_matching(
    "[a-z]{2,3}", "must be an ISO 639 language code (2 or 3 small letters)"))]
