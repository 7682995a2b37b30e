"""`make run`: initialise the embedded default if needed, load demo calls, serve.

Uses ROKUON_HOME (the Makefile sets ./.rokuon-demo). The first admin's one-time
password is kept in HOME/first-admin-password.txt (mode 0600) until you change it
at first sign-in, so that it can be printed again on the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rokuon.access.principal import Principal
from rokuon.calls.ingest import ingest_stream, iter_file
from rokuon.calls.metadata import parse_metadata
from rokuon.config import load_settings
from rokuon.install import init_installation, open_runtime
from rokuon.store.models import User

ROOT = Path(__file__).resolve().parent.parent
DEMO_CALLS = ROOT / "tests" / "data" / "calls"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8420)
    ap.add_argument("--calls", type=int, default=4, help="how many demo calls to load")
    args = ap.parse_args()

    settings = load_settings()
    pw_file = settings.home / "first-admin-password.txt"
    if not settings.initialised:
        res = init_installation(settings, "admin@example.com")
        fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps({"email": res.admin_email, "password": res.admin_password}))
    rt = open_runtime(load_settings())

    # a tour of the analytics first: polite call, カスハラ, card payment (PCI bleep),
    # third-party names (disclosure masking); then the rest of the corpus in order
    showcase = ["01_billing_inquiry", "04_abusive_complaint", "07_card_payment",
                "21_third_party_names"]
    demo = sorted(p for p in DEMO_CALLS.glob("*") if (p / "stereo.wav").exists())
    demo.sort(key=lambda p: (p.name not in showcase, p.name))
    for d in demo[: args.calls]:
        meta = parse_metadata((d / "meta.json").read_bytes(), source=str(d / "meta.json")) \
            if (d / "meta.json").exists() else None
        r = ingest_stream(rt, iter_file(d / "stereo.wav"), name=f"{d.name}/stereo.wav",
                          meta=meta, source="cli", actor=Principal.cli())
        print(f"demo call {d.name}: {r.status} {r.call_id or r.duplicate_of}", file=sys.stderr)

    creds = "(already changed)"
    if pw_file.exists():
        doc = json.loads(pw_file.read_text())
        with rt.db.session() as s:
            user = s.query(User).filter_by(email=doc["email"]).one_or_none()
            if user is not None and user.must_change_password:
                creds = f"{doc['email']} / one-time password: {doc['password']}"
            else:
                pw_file.unlink()
    rt.close()
    url = f"http://{args.host}:{args.port}/"
    print("\n" + "=" * 64)
    print(f" rokuon is starting at {url}")
    print(f" sign in as {creds}")
    print(f" data: {settings.home}   (demo calls are transcribed in the background)")
    print("=" * 64 + "\n", flush=True)
    os.execv(sys.executable, [sys.executable, "-m", "rokuon.cli.main", "serve",
                              "--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    sys.exit(main())
