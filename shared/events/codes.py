"""Code lists shared by contracts and APIs (the catalogue of topics, modes, statuses)."""

from enum import StrEnum


class Topic(StrEnum):
    """What a consultation was about; also the areas of plan goals."""

    language = "language"
    work = "work"
    housing = "housing"
    school = "school"
    education = "education"
    health = "health"
    family = "family"
    residence = "residence"
    benefits = "benefits"
    everyday_life = "everyday_life"


class Mode(StrEnum):
    """How a consultation was held (`outreach`: aufsuchende Beratung)."""

    office = "office"
    outreach = "outreach"
    phone = "phone"
    video = "video"
    group = "group"


class CloseReason(StrEnum):
    independent = "independent"
    moved_away = "moved_away"
    transferred = "transferred"
    other = "other"


class GoalStatus(StrEnum):
    open = "open"
    in_progress = "in_progress"
    achieved = "achieved"
    dropped = "dropped"


class PositionStatus(StrEnum):
    """approved (not yet occupied), occupied, vacant (re-fillable); a new position before and without approval:
    applied (waiting for the state), refused, withdrawn (its application). Only the first three are funded."""

    approved = "approved"
    occupied = "occupied"
    vacant = "vacant"
    applied = "applied"
    refused = "refused"
    withdrawn = "withdrawn"


class ApplicationStatus(StrEnum):
    """submitted (open), then decided by the state (approved, rejected) or withdrawn by the municipality."""

    submitted = "submitted"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"


class Eligibility(StrEnum):
    """Why a client may be counselled: the programme serves only these two groups."""

    follow_up_accommodation = "follow_up_accommodation"  # Anschlussunterbringung, §§ 17, 18 FlüAG
    temporary_protection_ukraine = "temporary_protection_ukraine"  # § 24 AufenthG


class Relation(StrEnum):
    """How a household member counselled alongside the client is related to them."""

    partner = "partner"
    child = "child"
    parent = "parent"
    sibling = "sibling"
    other = "other"
