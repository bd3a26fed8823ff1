"""The runbook's one ordered list of steps: the single source of order for migrate-offline."""

from __future__ import annotations

from pgcutover.run import Step
from steps.backup import BACKUP
from steps.deploy_app import DEPLOY_APP
from steps.deploy_schema import DEPLOY_SCHEMA
from steps.fence import FENCE, UNFENCE
from steps.maintenance import MAINTENANCE_OFF, MAINTENANCE_ON
from steps.preflight import PREFLIGHT
from steps.prove_backup import BACKUP_PROOF
from steps.set_aside import RESET
from steps.smoke import SMOKE
from steps.statistics import STATISTICS
from steps.transform import TRANSFORM
from steps.verify import VERIFY

MIGRATE_OFFLINE: tuple[Step, ...] = (
    PREFLIGHT,
    MAINTENANCE_ON,
    FENCE,
    BACKUP,  # beside deploy-schema and transform: joined before reset (Step.beside_until)
    BACKUP_PROOF,  # beside, once the dump is written (Step.beside_after): joined before unfence
    DEPLOY_SCHEMA,  # into the build schema, apart from the legacy one the backup dumps
    TRANSFORM,
    RESET,  # swaps the built target in and sets the legacy schema aside, sealed
    STATISTICS,  # beside verify: joined before unfence
    VERIFY,
    UNFENCE,
    DEPLOY_APP,
    SMOKE,
    MAINTENANCE_OFF,
)

STEP_NAMES: tuple[str, ...] = tuple(s.name for s in MIGRATE_OFFLINE)
# Steps that run beside the others: their time overlaps the window's, it does not add to it.
BESIDE: frozenset[str] = frozenset(s.name for s in MIGRATE_OFFLINE if s.beside_until)
