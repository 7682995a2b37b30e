"""``rokuon doctor``: one line per problem in the configuration; exit code 1 when
something is wrong (warnings alone exit 0); ``--json`` for scripts."""

from __future__ import annotations

import typer

from rokuon.cli.output import JsonOpt, emit_json


def doctor(json_: JsonOpt = False) -> None:
    """Check the configuration: database, keys, blob store (S3 bucket), broker, model."""
    from rokuon.doctor import ERROR, as_json, run_checks

    findings = run_checks()
    if json_:
        emit_json(as_json(findings))
    else:
        for f in findings:
            typer.echo(f.line(), err=f.status == ERROR)
    if any(f.status == ERROR for f in findings):
        raise typer.Exit(1)
