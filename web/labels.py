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
POSITION_STATUS = {"approved": N_("Approved, not yet filled"), "occupied": N_("Occupied"), "vacant": N_("Vacant"),
                   "applied": N_("Applied for, not approved yet"), "refused": N_("Refused by the state"),
                   "withdrawn": N_("Application withdrawn")}
EXTENSION_KINDS = {"extension_24_months": N_("Extension by 24 months"),
                   "interruption_12_months": N_("Extension by 12 months after an interruption"),
                   "new_position": N_("New position")}
APPLICATION_STATUS = {"submitted": N_("Waiting for decision"), "approved": N_("Approved"), "rejected": N_("Rejected"),
                      "withdrawn": N_("Withdrawn")}
QUALIFICATIONS = {"vocational": N_("Vocational level"), "academic": N_("Academic level")}
NOTIFICATION_KINDS = {
    "extension_decided": N_("Extension decided"),
    "case_opened": N_("Case opened"),
    "goal_overdue": N_("Goal overdue"),
    "node_silent": N_("Node silent"),
    "plan_review_due": N_("Plan review due"),
    "counselling_ends": N_("Counselling ends soon"),
    "break_glass_opened": N_("Break-glass access"),
    "handover_received": N_("Case handed over to you"),
    "handover_answered": N_("Answer to a hand-over"),
}
AUDIT_CASE = {
    "open": N_("Opened the case"),
    "read": N_("Read the case file"),
    "list": N_("Saw the case in a list"),
    "record_consultation": N_("Recorded a consultation"),
    "read_consultations": N_("Read the consultations"),
    "close": N_("Closed the case"),
    "read_audit": N_("Read the audit trail"),
    "extend_counselling": N_("Extended the counselling"),
    "change": N_("Changed the personal data"),
    "reassign": N_("Handed the case to another manager"),
    "search": N_("Found the case in a search"),
    "record_information": N_("Recorded the information sheet handed over"),
    "record_consent": N_("Recorded a consent"),
    "withdraw_consent": N_("Recorded a consent's withdrawal"),
    "read_consents": N_("Read the consents"),
    "break_glass": N_("Opened the case as a stand-in (break-glass)"),
    "export": N_("Exported everything held about the client"),
    "handover": N_("Handed the case over to another municipality"),
    "handover_answered": N_("Received the other municipality's answer to the hand-over"),
    "handover_accepted": N_("Accepted the case from another municipality"),
}
CONSENT_PURPOSES = {"handover": N_("Hand-over to another municipality"),
                    "partner_sharing": N_("Sharing with a partner service")}
CONSENT_FORMS = {"written": N_("In writing"), "oral": N_("Orally")}
ELIGIBILITY = {"follow_up_accommodation": N_("Follow-up accommodation"),
               "temporary_protection_ukraine": N_("Temporary protection (Ukraine)")}
RELATIONS = {"partner": N_("Partner"), "child": N_("Child"), "parent": N_("Parent"), "sibling": N_("Sibling"),
             "other": N_("Other relative")}
AUDIT_PLAN = {
    "read": N_("Read the plan"),
    "add_goal": N_("Added a goal"),
    "change_goal": N_("Changed a goal"),
    "read_audit": N_("Read the audit trail"),
    "add_step": N_("Added a step"),
    "change_step": N_("Changed a step"),
    "agree": N_("Recorded the client's agreement"),
    "record_review": N_("Recorded a review"),
    "read_versions": N_("Read the plan's versions"),
    "read_version": N_("Read a version of the plan"),
    "print": N_("Printed the plan"),
}
STEP_STATUS = {"open": N_("Open"), "referred": N_("Referred"), "accepted": N_("Accepted"), "done": N_("Done"),
               "declined": N_("Declined")}
STEP_ACTORS = {"client": N_("The client"), "manager": N_("The integration manager"),
               "partner": N_("A partner service")}
PARTNER_TYPES = {
    "jobcenter": N_("Jobcenter"), "employment_agency": N_("Employment agency"),
    "language_course_provider": N_("Language course provider"), "migration_counselling": N_("Migration counselling"),
    "immigration_office": N_("Immigration office"), "social_welfare_office": N_("Social welfare office"),
    "youth_welfare_office": N_("Youth welfare office"), "school": N_("School"), "childcare": N_("Childcare"),
    "health_service": N_("Health service"), "housing": N_("Housing office"),
    "debt_counselling": N_("Debt counselling"), "volunteers": N_("Volunteers"), "other": N_("Other service"),
}
# The languages a printed plan comes in beside German (and a plan is explained in).
PLAN_LANGUAGES = {"de": N_("German"), "ar": N_("Arabic"), "fa": N_("Persian"), "uk": N_("Ukrainian"),
                  "ru": N_("Russian"), "tr": N_("Turkish"), "en": N_("English")}
# Why the counselling of a case ended (the state counts `independent` as an outcome).
CLOSE_REASONS = {"independent": N_("The client manages independently"), "moved_away": N_("The client moved away"),
                 "transferred": N_("Handed over to another service"), "other": N_("Another reason")}
GROUPS = {"role": ROLES, "case_status": CASE_STATUS, "mode": MODES, "topic": TOPICS,
          "goal_status": GOAL_STATUS, "plan_status": PLAN_STATUS, "kind": NOTIFICATION_KINDS,
          "position_status": POSITION_STATUS, "extension_kind": EXTENSION_KINDS,
          "application_status": APPLICATION_STATUS, "audit_case": AUDIT_CASE, "audit_plan": AUDIT_PLAN,
          "step_status": STEP_STATUS, "step_actor": STEP_ACTORS, "partner_type": PARTNER_TYPES,
          "plan_language": PLAN_LANGUAGES,
          "eligibility": ELIGIBILITY, "relation": RELATIONS, "qualification": QUALIFICATIONS,
          "consent_purpose": CONSENT_PURPOSES, "consent_form": CONSENT_FORMS, "close_reason": CLOSE_REASONS}


def label(group: str, code: str | None) -> str:
    """The message id of a code's label; an unknown code (a newer API) shows as it is."""
    if code is None:
        return ""
    return GROUPS[group].get(code, code)


def options(group: str, gettext: Callable[[str], str]) -> list[tuple[str, str]]:
    """(code, translated label) of every code of a group, for radios, checkboxes and selects."""
    return [(code, gettext(text)) for code, text in GROUPS[group].items()]
