"""Rough cuts of SQL text: comments dropped, statements split, side-by-side work told apart."""

from __future__ import annotations

import re

NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'  # one SQL identifier, quoted or not
QUALIFIED_NAME = rf"{NAME}(?:\s*\.\s*{NAME})?"
# What may run side by side: an index build (CREATE [UNIQUE] INDEX … ON table, or ALTER TABLE
# table ADD CONSTRAINT … PRIMARY KEY or UNIQUE; not CONCURRENTLY, which cannot run inside the
# transaction each statement gets), or a constraint's validation (ALTER TABLE … VALIDATE
# CONSTRAINT). Each locks its table against the others' writes only, and none writes rows.
SIDE_BY_SIDE = re.compile(
    r"(?:CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"
    + NAME
    + rf"\s+)?ON\s+(?:ONLY\s+)?(?P<on>{QUALIFIED_NAME})"
    + rf"|ALTER\s+TABLE\s+(?:ONLY\s+)?(?P<table>{QUALIFIED_NAME})\s+(?:ADD\s+CONSTRAINT\s+"
    + rf"{NAME}\s+(?:PRIMARY\s+KEY|UNIQUE)\b|VALIDATE\s+CONSTRAINT\s+{NAME}\s*$))",
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


def side_by_side_statements(sql: str) -> list[tuple[str, str]]:
    """Return (statement, table) for each statement; raise ValueError naming one that is neither
    an index build nor a constraint validation (only those may run side by side)."""
    out = []
    for n, statement in enumerate(rough_statements(sql), 1):
        match = SIDE_BY_SIDE.match(statement)
        if match is None or (match["table"] and "," in PARENTHESES.sub("", statement)):
            first = " ".join(statement.split())[:60]
            raise ValueError(
                f"statement {n} ({first}…) is neither an index build (CREATE INDEX, ALTER TABLE "
                "… ADD CONSTRAINT … PRIMARY KEY or UNIQUE) nor a constraint validation (ALTER "
                "TABLE … VALIDATE CONSTRAINT): only those may run side by side"
            )
        out.append((statement, match["on"] or match["table"]))
    if not out:
        raise ValueError("it holds no statement")
    return out
