"""The one failure of migrations, importable without loading Alembic or the services."""


class MigrationError(Exception):
    """A database is not, and cannot be brought, at the code's schema; the message is one line."""
