"""Small things an attacker or a typo hits: control characters in a search, the
download link's token in the access log."""

from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from rokuon.web.app import create_app


def test_search_with_control_characters_is_a_clear_400(signed_in: TestClient) -> None:
    c = signed_in
    for q in ("\x00", "abc\x00def", "解約\x1b[0m"):
        r = c.get("/api/search", params={"q": q})
        assert r.status_code == 400, (q, r.status_code)
        assert "control characters" in r.json()["error"] and "U+00" in r.json()["error"]
        assert c.get("/", params={"q": q}).status_code == 400
    assert c.get("/api/search", params={"q": "解約"}).status_code == 200


def test_download_token_is_not_in_the_access_log(installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    create_app(rt, start_workers=False)
    logger = logging.getLogger("uvicorn.access")
    record = logger.makeRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "GET", "/requests/download/s3cr3t-t0ken_value?x=1", "1.1", 200),
        None)
    assert all(f.filter(record) for f in logger.filters)
    line = record.getMessage()
    assert "s3cr3t" not in line and "/requests/download/[redacted]?x=1" in line
