"""``rokuon bench``: measurements on this machine (docs/scale.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rokuon.cli.output import JsonOpt, emit_json, fail

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks on this machine.")


@bench_app.command("throughput")
def throughput(
    files: Annotated[list[Path], typer.Argument(
        help="Distinct recordings: all but the last are the batch; the last measures "
             "queue latency.")],
    processes: Annotated[str, typer.Option(help="Worker process counts to try.")] = "1,2",
    broker: Annotated[str, typer.Option(
        help="Celery broker URL (amqp://… or redis://…); none: in-process workers.")] = "",
    database_url: Annotated[str | None, typer.Option(
        help="Database for the temporary installations (default: SQLite).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per run at most.")] = 1800.0,
    json_: JsonOpt = False,
) -> None:
    """Calls/hour with 1 and 2 worker processes, queue latency, where time goes."""
    from rokuon.pipeline.bench_throughput import run_throughput

    try:
        counts = [int(x) for x in processes.split(",") if x.strip()]
        if not counts or min(counts) < 1:
            raise ValueError("--processes: positive numbers, e.g. 1,2")
        res = run_throughput(files, counts, broker=broker, database_url=database_url,
                             timeout_s=timeout)
    except (ValueError, TimeoutError, RuntimeError) as exc:
        fail(str(exc))
    if json_:
        emit_json(res)
        return
    typer.echo(f"engine: {res['engine']}, {res['cores']} cores")
    for r in res["runs"]:
        steps = ", ".join(f"{k} {v:.1f} s" for k, v in r["step_s"].items())
        typer.echo(f"{r['processes']} process(es): {r['calls']} calls ({r['audio_s']:.0f} s "
                   f"audio) in {r['wall_s']:.1f} s = {r['calls_per_hour']:.0f} calls/h, "
                   f"{r['audio_hours_per_hour']:.2f} audio-h/h; queue latency "
                   f"{r['queue_latency_s'] * 1000:.0f} ms; per call: {steps}")
