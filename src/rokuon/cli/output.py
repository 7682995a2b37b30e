"""CLI output helpers: one JSON document on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated, Any, NoReturn

import typer

# the --json option every command shares
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=1, default=str) + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    sys.stderr.write("rokuon: " + " ".join(str(message).split()) + "\n")
    raise typer.Exit(code)


def option_date(name: str, v: str | None) -> date | None:
    """A --since/--until style option as a date, or a one-line failure naming it."""
    if v is None:
        return None
    try:
        return date.fromisoformat(v)
    except ValueError:
        fail(f"--{name}: '{v}' is not a date (expected YYYY-MM-DD)")
