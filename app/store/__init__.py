"""The store: SQLAlchemy (async) over SQLite by default or PostgreSQL in production.

Every query iaewatch makes lives here; callers get frozen rows and `core.model` values, never
ORM objects. The schema changes only through Alembic (`migrations/`, `iaewatch db upgrade`).
"""

from app.store._alerts import StationEpisode
from app.store._users import check_role, check_username
from app.store.errors import DuplicateError, StoreError, StoreNotMigrated, StoreUnavailable
from app.store.migrate import upgrade
from app.store.rows import (
    Arm,
    AuditRow,
    BedRow,
    DeviceConnectionRow,
    DeviceRow,
    InfusionRow,
    PatientRow,
    Role,
    UserRow,
)
from app.store.store import Store
from app.store.url import database_url

__all__ = [
    "Arm",
    "AuditRow",
    "BedRow",
    "DeviceConnectionRow",
    "DeviceRow",
    "DuplicateError",
    "InfusionRow",
    "PatientRow",
    "Role",
    "StationEpisode",
    "Store",
    "StoreError",
    "StoreNotMigrated",
    "StoreUnavailable",
    "UserRow",
    "check_role",
    "check_username",
    "database_url",
    "upgrade",
]
