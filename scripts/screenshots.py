"""Screenshots of the main pages for docs/ (and the README), taken in Debian chromium.

Builds a throwaway installation in a temporary home, imports demo calls from the test
corpus through the real pipeline (faster-whisper base, as `make run` does), signs in as
an admin and a supervisor and saves PNGs to docs/screenshots/: the call list, a call
page (timeline, analysis, transcript), the dashboard, the coaching queue, the scorecard
editor, the real-time rules, user administration — in Japanese, 1280 px wide.

Usage: python scripts/screenshots.py [--calls 6] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CALLS = ROOT / "tests" / "data" / "calls"
PASSWORD = "correct horse battery staple 42"
SHOWCASE = ["04_abusive_complaint", "01_billing_inquiry", "07_card_payment",
            "21_third_party_names", "02_consent_refused", "05_churn"]


def _user(rt, email: str, role: str, team: str | None = None) -> str:  # type: ignore[no-untyped-def]
    from rokuon.access.principal import Principal
    from rokuon.users import mfa
    from rokuon.users.service import create_user, set_password

    with rt.db.session() as s:
        user, _ = create_user(s, Principal.cli(), email, role, team, None)
        set_password(s, user, PASSWORD)
        secret = mfa.new_secret(user, rt.keys)
        user.mfa_enabled = True
    return secret


def _sign_in(page, base: str, email: str, secret: str) -> None:  # type: ignore[no-untyped-def]
    import pyotp

    page.context.clear_cookies()
    page.goto(f"{base}/login?lang=ja")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/mfa")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--calls", type=int, default=6)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        print("Debian chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    home = Path(tempfile.mkdtemp(prefix="rokuon-shots-"))
    os.environ["ROKUON_HOME"] = str(home / "home")
    os.environ.pop("ROKUON_DATABASE_URL", None)

    import uvicorn
    from playwright.sync_api import sync_playwright

    from rokuon.access.principal import Principal
    from rokuon.calls.ingest import ingest_stream, iter_file
    from rokuon.calls.metadata import parse_metadata
    from rokuon.config import load_settings
    from rokuon.install import init_installation, open_runtime
    from rokuon.pipeline.executor import run_until_done
    from rokuon.web.app import create_app

    init_installation(load_settings(), "admin@example.com")
    rt = open_runtime(load_settings())
    ids = []
    for name in SHOWCASE[: args.calls]:
        d = CALLS / name
        meta = parse_metadata((d / "meta.json").read_bytes()) if (d / "meta.json").exists() \
            else None
        r = ingest_stream(rt, iter_file(d / "stereo.wav"), name=f"{name}.wav", meta=meta,
                          source="cli", actor=Principal.cli())
        ids.append(r.call_id)
    print(f"transcribing {len(ids)} calls …", file=sys.stderr)
    run_until_done(rt, [i for i in ids if i])
    admin = _user(rt, "boss@example.com", "admin")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(rt, start_workers=False), host="127.0.0.1",
                                        port=port, log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    args.out.mkdir(parents=True, exist_ok=True)
    month = "since=2026-11-01&until=2026-11-30&group=agent"  # when the demo calls are
    shots = [("calls", "/"), ("call", f"/calls/{ids[0]}"), ("dashboard", f"/dashboard?{month}"),
             ("coaching", "/coaching"), ("scorecard", "/scorecards/default_ja"),
             ("live-rules", "/live/rules"), ("users", "/admin/users")]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(locale="ja-JP", viewport={"width": 1280, "height": 900})
        _sign_in(page, base, "boss@example.com", admin)
        for name, path in shots:
            page.goto(f"{base}{path}")
            page.wait_for_load_state("networkidle")
            page.evaluate("() => document.fonts.ready")
            out = args.out / f"{name}.png"
            page.screenshot(path=str(out), full_page=name != "call")
            print(f"{out.relative_to(ROOT)}", file=sys.stderr)
        browser.close()
    srv.should_exit = True
    rt.close()
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
