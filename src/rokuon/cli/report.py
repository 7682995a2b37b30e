"""`rokuon report …`: KPIs and the keyword ranking over a period (the CLI runs as the
local admin: every call)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from rokuon.access.principal import Principal
from rokuon.cli.context import cli_runtime as _runtime
from rokuon.cli.output import JsonOpt, emit_json, fail

report_app = typer.Typer(no_args_is_help=True,
                         help="Reports across calls: KPIs per agent, team, queue or day; "
                              "keyword ranking.")

SinceOpt = Annotated[str | None, typer.Option(
    "--since", help="First day, YYYY-MM-DD in the installation's time zone "
                    "(default: 7 days before --until).")]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", help="Last day, inclusive (default: today).")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print the table as CSV.")]


def _fmt(v: Any) -> str:
    return "-" if v is None else str(v)


def _run(since: str | None, until: str | None, make: Any) -> tuple[Any, Any]:
    """(period, report): ``make(session, principal, period)`` over the parsed period as
    the local admin; a bad period or option ends the command with its message."""
    from rokuon.reports.service import ReportError, parse_period

    rt = _runtime()
    try:
        period = parse_period(since, until, rt.settings.timezone)
        with rt.db.session() as s:
            return period, make(s, Principal.cli(), period)
    except ReportError as exc:
        fail(str(exc))


@report_app.command("kpis")
def kpis(group: Annotated[str | None, typer.Option(
             "--group", help="agent | team | queue | day")] = None,
         since: SinceOpt = None, until: UntilOpt = None, as_csv: CsvOpt = False,
         as_json: JsonOpt = False) -> None:
    """Volume, AHT, talk ratio, silence, overlaps, interruptions, fillers, QA,
    complaints, negative sentiment and missing recording notices (docs/reports.md)."""
    from rokuon.reports import kpis as k
    from rokuon.reports.service import kpis_csv

    period, rep = _run(since, until, lambda s, who, p: k.report(s, who, p,
                                                                k.check_group(group)))
    if as_json:
        emit_json(rep.contract())
        return
    if as_csv:
        typer.echo(kpis_csv(rep), nl=False)
        return
    cols = k.KPI_KEYS
    typer.echo(f"{period.since} – {period.until}")
    typer.echo("\t".join(["key", *cols]))
    typer.echo("\t".join(["(total)", *(_fmt(rep.total[c]) for c in cols)]))
    for g in rep.groups:
        typer.echo("\t".join([_fmt(g["key"]), *(_fmt(g[c]) for c in cols)]))


@report_app.command("keywords")
def keywords(since: SinceOpt = None, until: UntilOpt = None,
             lists: Annotated[list[str] | None, typer.Option(
                 "--list", help="Only this keyword list (ng, good, churn, competitor …); "
                                "repeatable.")] = None,
             as_csv: CsvOpt = False, as_json: JsonOpt = False) -> None:
    """Keywords heard in the period: count, calls, change against the period before."""
    from rokuon.reports import keywords as kw
    from rokuon.reports.service import keywords_csv

    period, rep = _run(since, until, lambda s, who, p: kw.report(
        s, who, p, lists=tuple(lists or ())))
    if as_json:
        emit_json(rep.contract())
        return
    if as_csv:
        typer.echo(keywords_csv(rep), nl=False)
        return
    typer.echo(f"{period.since} – {period.until}")
    for r in rep.rows:
        typer.echo(f"{r['list']}\t{r['word']}\t{r['count']}\t{r['calls']}\t{r['change']:+d}")


@report_app.command("topics")
def topics(since: SinceOpt = None, until: UntilOpt = None,
           count: Annotated[int | None, typer.Option(
               "--topics", help="How many topics (1-20; default: chosen from the calls).")
           ] = None,
           as_csv: CsvOpt = False, as_json: JsonOpt = False) -> None:
    """VOC topics: what customers talked about, calls per topic and the change
    against the period before (docs/reports.md)."""
    from rokuon.reports import topics as tp
    from rokuon.reports.service import topics_csv

    period, rep = _run(since, until, lambda s, who, p: tp.report(s, who, p, topics=count))
    if as_json:
        emit_json(rep.contract())
        return
    if as_csv:
        typer.echo(topics_csv(rep), nl=False)
        return
    typer.echo(f"{period.since} – {period.until}\t{rep.documents} calls")
    for r in rep.rows:
        typer.echo(f"{r['topic']}\t{r['label']}\t{r['calls']}\t{r['change']:+d}\t"
                   f"{r['share']:.1%}\t{' '.join(r['terms'])}")
