"""pgcutover: run an offline PostgreSQL migration as a journaled, resumable runbook."""
