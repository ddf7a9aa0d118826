"""Case files: a client's personal data, consultations, closure and the audit trail of access."""
