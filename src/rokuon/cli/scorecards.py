"""``rokuon scorecard …``: list, show, save a new version from a file, re-score past calls.

A card file is JSON or YAML: ``{"title", "pass_score", "criteria": [...]}`` (the shape
``rokuon scorecard show NAME --json`` prints, so show → edit → set round-trips)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import JsonOpt, emit_json, fail

scorecard_app = typer.Typer(no_args_is_help=True, help="Scorecards: versions and re-scoring.")
NameArg = Annotated[str, typer.Argument(help="The scorecard's name (e.g. default_ja).")]


@scorecard_app.command("list")
def sc_list(json_: JsonOpt = False) -> None:
    """The scorecards and their newest versions."""
    from rokuon.scorecards import versions

    rt = _runtime()
    with rt.db.session() as s:
        cards = versions.listing(s, rt.analysis_config)
    if json_:
        emit_json({"scorecards": cards})
        return
    for c in cards:
        typer.echo(f"{c['name']}\tv{c['version']}\tpass {c['pass_score']}\t"
                   f"{c['criteria']} criteria\t{c['title']}")


@scorecard_app.command("show")
def sc_show(name: NameArg, version: Annotated[int | None, typer.Option(
        help="An older version (default: the newest).")] = None, json_: JsonOpt = False) -> None:
    """One scorecard version and the list of versions."""
    from rokuon.scorecards import versions

    rt = _runtime()
    try:
        with rt.db.session() as s:
            card = versions.get(s, rt.analysis_config, name, version)
            hist = versions.history(s, rt.analysis_config, name)
    except versions.UnknownScorecard as exc:
        fail(str(exc))
    if json_:
        emit_json({"name": name, **card, "history": hist})
        return
    typer.echo(f"{name} v{card['version']}: {card['title']} (pass {card['pass_score']})")
    for c in card["criteria"]:
        typer.echo(f"  {c['id']}\t{c['type']}\tweight {c.get('weight', 1)}\t{c.get('label', '')}")


def _read_card(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: cannot read ({exc})")
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        fail(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: "
             f"{str(exc).splitlines()[0]}")


@scorecard_app.command("set")
def sc_set(name: NameArg, file: Annotated[Path, typer.Argument(
        help="The card: JSON (.json) or YAML.")],
           base_version: Annotated[int | None, typer.Option(
               help="Refuse if the newest version is no longer this one.")] = None,
           note: Annotated[str | None, typer.Option(help="Why it changed.")] = None,
           json_: JsonOpt = False) -> None:
    """Save FILE as the scorecard's next version (every problem is named; nothing is
    saved if there is one); audited."""
    from rokuon.scorecards import versions
    from rokuon.scorecards.validate import ScorecardError

    raw = _read_card(file)
    if isinstance(raw, dict):  # what `show --json` printed: keep only the card
        raw = {k: raw[k] for k in ("title", "pass_score", "criteria") if k in raw}
    rt = _runtime()
    try:
        with rt.db.session() as s:
            saved = versions.save(s, Principal.cli(), rt.analysis_config, name, raw,
                                  base_version=base_version, note=note)
    except ScorecardError as exc:
        fail("; ".join(exc.problems) if exc.problems else str(exc))
    except versions.UnknownScorecard as exc:
        fail(str(exc))
    if json_:
        emit_json({"name": name, **saved})
    else:
        typer.echo(f"{name}: version {saved['version']} saved")


@scorecard_app.command("rescore")
def sc_rescore(name: NameArg,
               since: Annotated[str | None, typer.Option(help="YYYY-MM-DD (call start).")] = None,
               until: Annotated[str | None, typer.Option(help="YYYY-MM-DD, inclusive.")] = None,
               version: Annotated[int | None, typer.Option(
                   help="The version to apply (default: the newest).")] = None,
               wait: Annotated[bool, typer.Option(
                   help="Run it here (or wait for the server) and print the deltas.")] = False,
               json_: JsonOpt = False) -> None:
    """Re-score past calls with a scorecard version; prints the run (and, with --wait,
    the per-call deltas)."""
    from rokuon.scorecards import rescore, versions
    from rokuon.scorecards.validate import ScorecardError

    rt = _runtime()
    who = Principal.cli()
    try:
        with rt.db.session() as s:
            run_id = rescore.start(s, who, rt.analysis_config, name, version=version,
                                   since=since, until=until, tz=rt.settings.timezone).id
    except ScorecardError as exc:
        fail("; ".join(exc.problems) if exc.problems else str(exc))
    except versions.UnknownScorecard as exc:
        fail(str(exc))
    with rt.db.session() as s:
        doc = rescore.summary(s, who, run_id)
    while wait and doc["run"]["status"] not in rescore.FINAL:
        # run the queued runs here; one a server's worker holds is waited for
        if not rescore.run_pending(rt, f"cli@{who.name}"):
            time.sleep(1.0)
        with rt.db.session() as s:
            doc = rescore.summary(s, who, run_id)
    if json_:
        emit_json(doc)
        return
    r = doc["run"]
    typer.echo(f"re-score run {r['id']} ({name} v{r['version']}): {r['status']}, "
               f"{r['done']}/{r['total']} calls, {r['changed']} changed, "
               f"mean change {doc['mean_delta']}")
