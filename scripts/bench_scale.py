"""Search and the call list at scale: ``rokuon bench scale`` as a script.

    python scripts/bench_scale.py --calls 10000 [--database-url postgresql+psycopg://…]
"""

from __future__ import annotations

from typer import run

from rokuon.cli.bench_scale import scale

if __name__ == "__main__":
    run(scale)
