"""Key provider backed by the transit engine of OpenBao / HashiCorp Vault (same HTTP API).

The key-encryption key never leaves the server: data keys are sent to
``/v1/<mount>/encrypt/<key>`` and come back as ``vault:vN:…`` ciphertext. Rotation
creates a new key version on the server; old versions still decrypt.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from rokuon.store.keys import KeyProviderError, WrappedKey, register_key_provider


class TransitKeyProvider:
    name = "openbao"

    def __init__(self, *, addr: str, token: str, key: str = "rokuon", mount: str = "transit",
                 timeout: float = 10.0, verify: bool | str = True) -> None:
        if not token:
            raise KeyProviderError("key provider 'openbao' needs a token "
                                   "(set ROKUON_OPENBAO_TOKEN)")
        self.key, self.mount = key, mount.strip("/")
        self._http = httpx.Client(base_url=addr.rstrip("/"), timeout=timeout, verify=verify,
                                  headers={"X-Vault-Token": token})

    def _call(self, method: str, path: str, json: dict[str, Any] | None = None
              ) -> dict[str, Any]:
        try:
            r = self._http.request(method, f"/v1/{self.mount}/{path}", json=json)
        except httpx.HTTPError as exc:
            raise KeyProviderError(f"OpenBao transit unreachable at {self._http.base_url}: "
                                   f"{exc}") from exc
        if r.status_code >= 400:
            errors = r.json().get("errors") if r.headers.get("content-type", "").startswith(
                "application/json") else None
            raise KeyProviderError(f"OpenBao transit {path}: HTTP {r.status_code} "
                                   f"{'; '.join(errors or []) or r.text[:200]}")
        return r.json() if r.content else {}

    def current_kek_id(self) -> str:
        data = self._call("GET", f"keys/{self.key}")["data"]
        return f"{self.key}:v{data['latest_version']}"

    def wrap(self, dek: bytes) -> WrappedKey:
        data = self._call("POST", f"encrypt/{self.key}",
                          {"plaintext": base64.b64encode(dek).decode()})["data"]
        ct: str = data["ciphertext"]
        version = ct.split(":")[1] if ct.startswith("vault:") else "v?"
        return WrappedKey(self.name, f"{self.key}:{version}", ct.encode())

    def unwrap(self, w: WrappedKey) -> bytes:
        if w.provider != self.name:
            raise KeyProviderError(f"data key wrapped by provider '{w.provider}', "
                                   f"not '{self.name}'")
        data = self._call("POST", f"decrypt/{self.key}",
                          {"ciphertext": w.ciphertext.decode()})["data"]
        return base64.b64decode(data["plaintext"])

    def rotate(self) -> str:
        self._call("POST", f"keys/{self.key}/rotate")
        return self.current_kek_id()


def _make(**options: Any) -> TransitKeyProvider:
    return TransitKeyProvider(**options)


register_key_provider("openbao", _make)
register_key_provider("vault", _make)
