"""The Japanese UI is Japanese: every main page, signed in as each role (admin,
supervisor, operator, compliance, auditor) with the ``lang=ja`` cookie and a browser that
asks for English, and the sign-in, 403 and 404 pages. The visible text (tags, scripts,
styles and attributes stripped) must show (a) no raw i18n key — a snake_case token or an
existing ``TEXT`` key — and (b) no English word beyond an allow-list of proper nouns and
format names, the signed-in user's e-mail, call ids and the fixture's own data. Also:
the error page of any status is in Japanese in the base layout, and the bundled Noto Sans
JP web font is linked and served as a font under the CSP."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from rokuon.scorecards import versions
from rokuon.web.i18n import TEXT
from tests.scorecards.test_rescore import _call
from tests.web.conftest import make_user, sign_in

HTML = {"Accept": "text/html,application/xhtml+xml", "Accept-Language": "en-US,en;q=0.9"}

# proper nouns, format names and units a Japanese UI writes in Latin letters
ALLOWED = {"rokuon", "FAQ", "CSV", "PDF", "QA", "NG", "GOOD", "API", "MFA", "PII", "AHT", "URL",
           "JSON", "English", "ID", "UTC", "VOC", "PCI", "TLS", "Markdown", "SMS", "CRM",
           "JSONL", "Salesforce", "HubSpot", "kintone", "Twilio"}  # product names
# fixture data: the agent and team of the test calls, the installation's time zone
FIXTURE_WORDS = {"sato", "Asia/Tokyo"}

ROLES = {  # role -> (team, agent name)
    "admin": (None, None),
    "supervisor": ("A", None),
    "operator": (None, "sato"),
    "compliance": (None, None),
    "auditor": (None, None),
}

# Pages rendered by code this test's owner does not edit, skipped with the reason:
SKIP_WORDS: set[str] = set()  # every page is checked (the checklist's evidence is code)
# Words the call page may still show raw (none now: the purpose list is translated).
CALL_PAGE_WORDS: set[str] = set()

_KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*")
_HEX_ID = re.compile(r"\b[0-9a-f]{8,32}\b")  # call ids, whole or shortened (8)


class _VisibleText(HTMLParser):
    """Text a reader sees: no script/style/template, no attributes. ``<code>`` (and
    anything marked ``lang="en"``) holds identifiers shown as they are stored — audit
    action codes, CSV column names, the server's error detail — not UI words."""

    SKIP = {"script", "style", "template", "code", "kbd", "samp"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # one entry per open element: does it hide its text?
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        hidden = tag in self.SKIP or dict(attrs).get("lang", "ja") not in ("ja", "")
        self.stack.append(hidden or (bool(self.stack) and self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self.stack and self.stack[-1]) and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    p = _VisibleText()
    p.feed(html)
    return p.parts


def leaks(html: str, extra: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """What in the page's visible text is not Japanese UI: raw keys, English words."""
    found = []
    for text in visible_text(html):
        for data in sorted(FIXTURE_WORDS | extra, key=len, reverse=True):
            text = text.replace(data, " ")
        text = _HEX_ID.sub(" ", _EMAIL.sub(" ", text))
        for key in _KEY.findall(text):
            found.append(f"raw key {key!r} in {text!r}")
        for word in _WORD.findall(_KEY.sub(" ", text)):
            if word in ALLOWED:
                continue
            what = "raw key" if word in TEXT else "English"
            found.append(f"{what} {word!r} in {text!r}")
    return found


def test_visible_text_helper() -> None:
    page = ('<html><head><title>a</title><style>p{x_y:1}</style></head><body>'
            '<p title="English title">日本語 <b>sc_title</b></p><script>var not_shown;</script>'
            '<code>call.view</code><span lang="en">call not found</span><br>'
            '<p>Save 保存 FAQ</p></body></html>')
    assert visible_text(page) == ["a", "日本語", "sc_title", "Save 保存 FAQ"]
    assert leaks(page) == ["raw key 'sc_title' in 'sc_title'", "English 'Save' in 'Save 保存 FAQ'"]


@pytest.fixture
def call_with_analysis(rt) -> str:  # type: ignore[no-untyped-def]
    """A call with a transcript and the real analysis (no ASR): agent sato, team A."""
    return _call(rt, 611)


def _pages(call_id: str) -> list[str]:
    return ["/", f"/calls/{call_id}", "/dashboard", "/live", "/coaching", "/faq", "/scorecards",
            "/scorecards/default_ja", "/audit", "/compliance/report", "/requests", "/password",
            "/calls/0123456789abcdef", "/no-such-page"]  # 404 pages (403 for an auditor)


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_is_japanese(role: str, installation, client: TestClient,  # type: ignore[no-untyped-def]
                                call_with_analysis: str) -> None:
    _, rt = installation
    team, agent = ROLES[role]
    email = f"ja-{role}@example.com"
    sign_in(client, email, make_user(rt, email, role, team=team, agent_name=agent))
    client.cookies.set("lang", "ja")  # the cookie wins over the browser's English
    with rt.db.session() as s:  # the configured scorecards' titles are data, not UI
        titles = {str(c["title"]) for c in versions.listing(s, rt.analysis_config)}
    problems: list[str] = []
    statuses = {}
    for path in _pages(call_with_analysis):
        r = client.get(path, headers=HTML)
        statuses[path] = r.status_code
        assert r.status_code in (200, 403, 404), (path, r.status_code)
        assert r.headers["content-type"].startswith("text/html"), path
        if path in SKIP_WORDS:
            continue
        assert '<html lang="ja">' in r.text, path
        if r.status_code == 403:
            assert "このページを表示する権限がありません" in r.text, path
        extra = set(titles)
        if path.startswith("/calls/") and r.status_code == 200:
            extra |= CALL_PAGE_WORDS
        problems += [f"{path}: {p}" for p in leaks(r.text, extra)]
    assert statuses["/no-such-page"] == 404
    assert statuses["/calls/0123456789abcdef"] == (403 if role == "auditor" else 404)
    assert statuses["/"] == 200 and statuses["/password"] == 200
    if role == "auditor":
        assert statuses[f"/calls/{call_with_analysis}"] == 403
    else:
        assert statuses[f"/calls/{call_with_analysis}"] == 200
    if role == "operator":
        assert statuses["/audit"] == 403
    assert not problems, "\n".join(sorted(set(problems)))


def test_sign_in_page_is_japanese(client: TestClient) -> None:
    r = client.get("/login?lang=ja", headers=HTML)
    assert r.status_code == 200 and '<html lang="ja">' in r.text
    assert not leaks(r.text), leaks(r.text)
    assert r.cookies.get("lang") == "ja"


@pytest.mark.parametrize("status", [400, 403, 404, 409, 413, 429, 500, 503])
def test_error_page_of_any_status_is_japanese(status: int, installation) -> None:  # type: ignore[no-untyped-def]
    """error_response renders error.html in the base layout for every status (the ones
    without their own heading get the generic one)."""
    from starlette.requests import Request

    from rokuon.web.app import create_app, error_response

    _, rt = installation
    app = create_app(rt, start_workers=False)
    scope = {"type": "http", "method": "GET", "path": "/calls/x", "query_string": b"",
             "headers": [(b"accept", b"text/html"), (b"accept-language", b"ja")],
             "app": app, "router": app.router}
    r = error_response(Request(scope), status, "something broke on the server")
    html = r.body.decode()
    assert r.status_code == status and '<html lang="ja">' in html
    assert 'href="/static/style.css"' in html and "noto-sans-jp/font.css" in html
    assert 'class="card error-page"' in html and "通話一覧へ戻る" in html
    heading = f"error_{status}" if f"error_{status}" in TEXT else "error_other"
    assert TEXT[heading]["ja"] in html
    assert not leaks(html), leaks(html)
    # the server's English detail stays for support, marked as such
    assert '<code class="errtext" lang="en">something broke on the server</code>' in html


def test_web_font_is_bundled_and_served(client: TestClient) -> None:
    css = client.get("/static/vendor/noto-sans-jp/font.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    faces = re.findall(r"@font-face \{(.*?)\}", css.text, re.S)
    assert faces and all("font-display: swap" in f and "unicode-range:" in f for f in faces)
    files = re.findall(r"url\(\./([\w.-]+\.woff2)\)", css.text)
    assert len(files) == len(faces)
    weights = set(re.findall(r"font-weight: (\d+)", css.text))
    assert weights == {"400", "700"}
    for name in (files[0], files[-1], "noto-sans-jp-latin-400-normal.woff2"):
        r = client.get(f"/static/vendor/noto-sans-jp/{name}")
        assert r.status_code == 200 and r.headers["content-type"] == "font/woff2", name
        assert r.content[:4] == b"wOF2"
        csp = r.headers["content-security-policy"]
        # fonts fall under default-src 'self' unless a font-src says otherwise
        assert "default-src 'self'" in csp and "font-src" not in csp
    for name in ("LICENSE", "README.md"):
        assert client.get(f"/static/vendor/noto-sans-jp/{name}").status_code == 200
    style = client.get("/static/style.css").text
    body = re.search(r"body \{[^}]*font-family: ([^;]+);", style)
    assert body and body.group(1).startswith('"Noto Sans JP"')
