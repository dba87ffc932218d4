"""The store's errors, all under `IaewatchError` so the CLI prints them as one line.

IaewatchError
└── StoreError               the database cannot do what was asked
    ├── StoreNotMigrated     the schema is not at this iaewatch's Alembic head
    ├── StoreUnavailable     the database cannot be reached (or the URL is unusable)
    └── DuplicateError       a unique thing (user name, study id) already exists
"""

from __future__ import annotations

from core.errors import IaewatchError


class StoreError(IaewatchError):
    """The database cannot do what was asked."""


class StoreNotMigrated(StoreError):
    """The database schema is not at the Alembic head this code expects."""


class StoreUnavailable(StoreError):
    """The database cannot be reached, or its URL names no supported driver."""


class DuplicateError(StoreError, ValueError):
    """A row that must be unique already exists."""
