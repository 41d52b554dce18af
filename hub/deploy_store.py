"""Tables of the deployment side (enrollment codes, backups): their own migration set,
applied by hub.store.open_db after the core schema."""
from __future__ import annotations

from sqlite_utils.migrations import Migrations

migrations = Migrations("gatehouse.hub.deploy")
