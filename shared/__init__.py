"""Lotse's library: settings, database, events, bus, auth, federation, telemetry."""

VERSION = "0.1.0"
