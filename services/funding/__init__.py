"""The funding service: manager positions and their 24-month extensions."""
