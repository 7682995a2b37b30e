from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rokuon.web.app import create_app

NEW_PASSWORD = "correct horse battery staple"


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html) or \
        re.search(r'data-csrf="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


@pytest.fixture
def client(installation) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    _, rt = installation
    with TestClient(create_app(rt, start_workers=False), follow_redirects=False) as c:
        yield c


@pytest.fixture
def signed_in(client: TestClient, installation) -> TestClient:  # type: ignore[no-untyped-def]
    """Admin signed in, one-time password already changed; client.csrf is set."""
    res, _ = installation
    r = client.post("/login", data={"email": res.admin_email, "password": res.admin_password})
    assert r.status_code == 303 and r.headers["location"] == "/password"
    page = client.get("/password")
    r = client.post("/password", data={"new_password": NEW_PASSWORD,
                                       "csrf": csrf_from(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/"
    client.csrf = csrf_from(client.get("/").text)  # type: ignore[attr-defined]
    return client
