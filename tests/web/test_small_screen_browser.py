"""The UI at a phone's width, in a real browser (Debian chromium via Playwright), viewport
375x740: the call list, the dashboard, a call page, the scorecard editor and the other
main pages do not scroll sideways (a wide table scrolls inside its own ``.table-scroll``
box instead), the header's navigation wraps onto more lines within the screen, and the
text is set in the bundled Noto Sans JP web font (a face of it loaded, not a fallback)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.coaching.test_coaching_browser import _sign_in
from tests.scorecards.test_rescore import _call
from tests.web.conftest import live_server, make_user

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser]
WIDTH, HEIGHT = 375, 740

# what each page must show before it is measured
PAGES = {"/": "table.calls", "/dashboard": "main", "/calls/{cid}": "#qa",
         "/scorecards/default_ja": "table.criteria-editor", "/scorecards": "#scorecard-list",
         "/coaching": "#coaching-queue", "/faq": "main", "/audit": "#audit", "/requests": "main",
         "/live": "main", "/password": "main", "/compliance/report": "h1"}
NO_LAYOUT: set[str] = set()  # every page has the base layout now

_FONT_READY = """async () => {
  await document.fonts.ready;
  await document.fonts.load('16px "Noto Sans JP"', '通話一覧');
  await document.fonts.load('bold 16px "Noto Sans JP"', '通話一覧');
    // check() is also true when no @font-face names the family: ask for a loaded face too
  return document.fonts.check('16px "Noto Sans JP"', '通話一覧') && [...document.fonts].some(
    f => f.family.replace(/["']/g, '') === 'Noto Sans JP' && f.status === 'loaded');
}"""

# the elements that stick out past the right edge (for the failure message)
_WIDE = """(w) => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > w + 0.5)
  .filter(e => !e.closest('.table-scroll, .analysis-grid > .card'))
  .slice(0, 8)
  .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
       (typeof e.className === 'string' && e.className
         ? '.' + e.className.trim().replace(/ +/g, '.') : '') +
       ' right=' + Math.round(e.getBoundingClientRect().right))"""

_NAV = """() => {
  const links = [...document.querySelectorAll('header.top nav a, header.top nav button')];
  const rects = links.map(a => a.getBoundingClientRect());
  return {n: links.length, right: Math.max(...rects.map(r => r.right)),
          rows: new Set(rects.map(r => Math.round(r.top))).size};
}"""


def test_pages_fit_a_small_screen(installation) -> None:  # type: ignore[no-untyped-def]
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    _, rt = installation
    cid = _call(rt, 612)
    secret = make_user(rt, "small@example.com", "admin")
    with live_server(rt) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page(locale="ja-JP", viewport={"width": WIDTH, "height": HEIGHT})
            _sign_in(page, base, "small@example.com", secret)
            problems: list[str] = []
            for path, ready in PAGES.items():
                page.goto(base + path.format(cid=cid))
                page.wait_for_selector(ready)
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > WIDTH:
                    problems.append(f"{path}: {width} px wide: {page.evaluate(_WIDE, WIDTH)}")
                if path in NO_LAYOUT:
                    continue
                if not page.evaluate(_FONT_READY):
                    problems.append(f"{path}: Noto Sans JP is not loaded")
                family = page.evaluate("getComputedStyle(document.body).fontFamily")
                if not family.startswith('"Noto Sans JP"'):
                    problems.append(f"{path}: body font-family is {family}")
                if page.evaluate("document.documentElement.lang") != "ja":
                    problems.append(f"{path}: not in Japanese")
                nav = page.evaluate(_NAV)
                # every link on the screen, on more than one line: it wrapped
                if nav["n"] < 6 or nav["right"] > WIDTH or nav["rows"] < 2:
                    problems.append(f"{path}: the navigation does not wrap: {nav}")
            assert not problems, "\n".join(problems)
        finally:
            browser.close()
