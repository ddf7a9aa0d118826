"""The state level of the notifications service: alerts for the state operators, statewide inboxes."""
