"""The runbook's one ordered list of steps: the single source of order for migrate-offline."""
from __future__ import annotations

from .backup import BACKUP
from .deploy_app import DEPLOY_APP
from .deploy_schema import DEPLOY_SCHEMA
from .engine import Step
from .fence import FENCE, UNFENCE
from .maintenance import MAINTENANCE_OFF, MAINTENANCE_ON
from .preflight import PREFLIGHT
from .reset import RESET
from .transform import TRANSFORM
from .verify import VERIFY

MIGRATE_OFFLINE: tuple[Step, ...] = (
    PREFLIGHT,
    MAINTENANCE_ON,
    FENCE,
    BACKUP,
    RESET,
    DEPLOY_SCHEMA,
    TRANSFORM,
    VERIFY,
    UNFENCE,
    DEPLOY_APP,
    MAINTENANCE_OFF,
)

STEP_NAMES: tuple[str, ...] = tuple(s.name for s in MIGRATE_OFFLINE)
