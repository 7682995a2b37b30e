"""``rokuon bench scale`` seeds through the app's tables and measures every path;
it refuses an installation that already has calls."""

from __future__ import annotations

import json

from typer.testing import CliRunner


def test_bench_scale_small(installation) -> None:  # type: ignore[no-untyped-def]
    from rokuon.cli.main import app

    out = CliRunner().invoke(app, ["bench", "scale", "--calls", "40", "--per-call", "5",
                                   "--repeat", "2", "--json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    res = json.loads(out.stdout)
    paths = res["paths"]
    assert paths["search phrase in every call"]["total"] == 40  # one utterance per call
    assert paths["search 1 char 円"]["total"] > 0
    assert all(p["p95_ms"] >= p["p50_ms"] > 0 for p in paths.values())
    again = CliRunner().invoke(app, ["bench", "scale", "--calls", "5"])
    assert again.exit_code != 0 and "already holds 40 calls" in again.output
