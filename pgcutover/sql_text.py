"""Rough cuts of SQL text: comments dropped, statements split, index builds told apart."""

from __future__ import annotations

import re

_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
QUALIFIED_NAME = rf"{_NAME}(?:\s*\.\s*{_NAME})?"
# An index build: CREATE [UNIQUE] INDEX … ON table, or ALTER TABLE table ADD CONSTRAINT … PRIMARY
# KEY or UNIQUE (not CONCURRENTLY: that cannot run inside the transaction each build gets).
INDEX_BUILD = re.compile(
    rf"(?:CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:{_NAME}\s+)?ON\s+(?:ONLY\s+)?(?P<on>{QUALIFIED_NAME})"
    rf"|ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<table>{QUALIFIED_NAME})\s+ADD\s+CONSTRAINT\s+{_NAME}\s+"
    r"(?:PRIMARY\s+KEY|UNIQUE)\b)",
    re.IGNORECASE,
)
# Parenthesized groups (one level): what is left of an ALTER TABLE without them must hold no
# comma, or a second subcommand (a foreign key, say) would ride along with the index build.
PARENTHESES = re.compile(r"\([^()]*\)")


def without_comments(sql: str) -> str:
    """Drop each line's `--` comment (a rough cut: it assumes no `--` inside a literal)."""
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def rough_statements(sql: str) -> list[str]:
    """Split SQL text into its statements, comments dropped (no `;` or `--` inside a literal)."""
    return [s.strip() for s in without_comments(sql).split(";") if s.strip()]


def index_builds(sql: str) -> list[tuple[str, str]]:
    """Return (statement, table) for each statement; raise ValueError naming one that builds
    no index (only index builds may run side by side)."""
    out = []
    for n, statement in enumerate(rough_statements(sql), 1):
        match = INDEX_BUILD.match(statement)
        if match is None or (match["table"] and "," in PARENTHESES.sub("", statement)):
            first = " ".join(statement.split())[:60]
            raise ValueError(
                f"statement {n} ({first}…) is not an index build (CREATE INDEX, or ALTER TABLE … "
                "ADD CONSTRAINT … PRIMARY KEY or UNIQUE): only those may run side by side"
            )
        out.append((statement, match["on"] or match["table"]))
    if not out:
        raise ValueError("it holds no statement")
    return out
