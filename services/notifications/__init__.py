"""The notifications service: inboxes per user and role, overdue-goal checks, e-mail delivery."""
