"""Case files: personal data, consultations, closure, the audit trail; at state level, statistics."""
