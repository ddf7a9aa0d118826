"""How codes of the API read on a page: every label a catalogue message, translated where shown."""

from __future__ import annotations

from collections.abc import Callable

from web.i18n import N_

ROLES = {
    "manager": N_("Integration manager"),
    "lead": N_("Team lead"),
    "node_admin": N_("Node administrator"),
    "funding_officer": N_("Funding officer"),
    "state_operator": N_("State operator"),
}
CASE_STATUS = {"open": N_("Open"), "closed": N_("Closed")}
MODES = {
    "office": N_("In the office"),
    "outreach": N_("Outreach visit"),
    "phone": N_("By phone"),
    "video": N_("By video"),
    "group": N_("In a group"),
}
TOPICS = {
    "language": N_("Language"),
    "work": N_("Work"),
    "housing": N_("Housing"),
    "school": N_("School"),
    "education": N_("Training and studies"),
    "health": N_("Health"),
    "family": N_("Family and children"),
    "residence": N_("Residence status"),
    "benefits": N_("Benefits"),
    "everyday_life": N_("Everyday life"),
}
GOAL_STATUS = {
    "open": N_("Not started"),
    "in_progress": N_("In progress"),
    "achieved": N_("Achieved"),
    "dropped": N_("Dropped"),
}
PLAN_STATUS = {"draft": N_("Draft"), "active": N_("Active"), "closed": N_("Closed")}
POSITION_STATUS = {"approved": N_("Approved, not yet filled"), "occupied": N_("Occupied"), "vacant": N_("Vacant")}
EXTENSION_KINDS = {"extension_24_months": N_("Extension by 24 months"),
                   "interruption_12_months": N_("Extension by 12 months after an interruption")}
APPLICATION_STATUS = {"submitted": N_("Waiting for decision"), "approved": N_("Approved"), "rejected": N_("Rejected")}
NOTIFICATION_KINDS = {
    "extension_decided": N_("Extension decided"),
    "case_opened": N_("Case opened"),
    "goal_overdue": N_("Goal overdue"),
    "node_silent": N_("Node silent"),
}
GROUPS = {"role": ROLES, "case_status": CASE_STATUS, "mode": MODES, "topic": TOPICS,
          "goal_status": GOAL_STATUS, "plan_status": PLAN_STATUS, "kind": NOTIFICATION_KINDS,
          "position_status": POSITION_STATUS, "extension_kind": EXTENSION_KINDS,
          "application_status": APPLICATION_STATUS}


def label(group: str, code: str | None) -> str:
    """The message id of a code's label; an unknown code (a newer API) shows as it is."""
    if code is None:
        return ""
    return GROUPS[group].get(code, code)


def options(group: str, gettext: Callable[[str], str]) -> list[tuple[str, str]]:
    """(code, translated label) of every code of a group, for radios, checkboxes and selects."""
    return [(code, gettext(text)) for code, text in GROUPS[group].items()]
