"""The notifications service: inboxes per user and role, overdue goals, node alerts, e-mail."""
