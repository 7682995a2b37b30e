"""``crm.yaml``: the CRM targets of this installation and their field mappings.

```yaml
targets:
  - name: sales                 # shown in the delivery log
    kind: salesforce            # salesforce | hubspot | kintone
    base_url: https://acme.my.salesforce.com
    token_env: ROKUON_CRM_SALES_TOKEN        # credentials come from the environment
    fields:                     # CRM field: template over the activity
      Subject: "通話 {agent} {started_at}"
      Description: "{summary}\\nQA: {qa_score}\\n{flags}\\n{call_url}"
```

Template names: see ``activity.FIELDS``. A name that is not one of them is refused when
the file is read; a CRM field that does not exist is reported by the CRM itself.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rokuon.integrations.crm.errors import CrmConfigError

KINDS = ("salesforce", "hubspot", "kintone")
DEFAULT_BASE = {"hubspot": "https://api.hubapi.com"}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Target:
    name: str
    kind: str
    base_url: str
    fields: dict[str, str]
    token_env: str = ""
    client_id_env: str = ""  # Salesforce client-credentials flow (instead of a token)
    client_secret_env: str = ""
    app: int | None = None  # kintone app id
    key_field: str = ""  # the CRM field that holds rokuon's call id (idempotency)
    api_version: str = "59.0"
    ca_file: str = ""  # a private CA bundle (a TLS-inspecting proxy, a test server)
    include_audio: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def secret(self, env: str) -> str:
        name = getattr(self, env)
        return os.environ.get(name, "") if name else ""


def render(template: str, activity: dict[str, Any]) -> str:
    """``{name}`` replaced by the activity's value (``{{``/``}}`` for braces)."""
    from rokuon.integrations.crm.activity import as_text

    out = _PLACEHOLDER.sub(lambda m: as_text(activity.get(m.group(1).strip())),
                           template.replace("{{", "\x00").replace("}}", "\x01"))
    return out.replace("\x00", "{").replace("\x01", "}")


def _check_template(where: str, template: str) -> None:
    from rokuon.integrations.crm.activity import FIELDS

    for m in _PLACEHOLDER.finditer(template.replace("{{", "").replace("}}", "")):
        if m.group(1).strip() not in FIELDS:
            raise CrmConfigError(f"{where}: unknown placeholder {{{m.group(1)}}}; known: "
                                 f"{', '.join(sorted(FIELDS))}")


def parse(doc: Any, source: str = "crm.yaml") -> list[Target]:
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("targets", []), list):
        raise CrmConfigError(f"{source}: expected a mapping with a 'targets' list")
    out: list[Target] = []
    for i, t in enumerate(doc.get("targets") or []):
        where = f"{source}: targets[{i}]"
        if not isinstance(t, dict):
            raise CrmConfigError(f"{where}: expected a mapping")
        name, kind = str(t.get("name") or ""), str(t.get("kind") or "")
        if not _NAME.match(name):
            raise CrmConfigError(f"{where}: 'name' must be 1-100 letters, digits, . _ -")
        if any(o.name == name for o in out):
            raise CrmConfigError(f"{where}: the name {name!r} is used twice")
        if kind not in KINDS:
            raise CrmConfigError(f"{where}: 'kind' must be one of {', '.join(KINDS)}; "
                                 f"got {kind!r}")
        base = str(t.get("base_url") or DEFAULT_BASE.get(kind, "")).rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise CrmConfigError(f"{where}: 'base_url' must be an https:// URL")
        fields = t.get("fields") or {}
        if not isinstance(fields, dict) or not all(isinstance(v, str | int | float)
                                                   for v in fields.values()):
            raise CrmConfigError(f"{where}: 'fields' must map CRM fields to templates")
        for k, v in fields.items():
            _check_template(f"{where}.fields.{k}", str(v))
        app = t.get("app")
        if kind == "kintone" and not (isinstance(app, int) and app > 0):
            raise CrmConfigError(f"{where}: a kintone target needs 'app' (the app id)")
        known = {"name", "kind", "base_url", "fields", "token_env", "client_id_env",
                 "client_secret_env", "app", "key_field", "api_version", "ca_file",
                 "include_audio"}
        extra = set(t) - known
        if extra:
            raise CrmConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        default_key = {"salesforce": "CallObject", "hubspot": "rokuon_call_id",
                       "kintone": "rokuon_call_id"}[kind]
        out.append(Target(name=name, kind=kind, base_url=base,
                          fields={str(k): str(v) for k, v in fields.items()},
                          token_env=str(t.get("token_env") or ""),
                          client_id_env=str(t.get("client_id_env") or ""),
                          client_secret_env=str(t.get("client_secret_env") or ""),
                          app=app if isinstance(app, int) else None,
                          key_field=str(t.get("key_field") or default_key),
                          api_version=str(t.get("api_version") or "59.0"),
                          ca_file=str(t.get("ca_file") or ""),
                          include_audio=bool(t.get("include_audio", False))))
    return out


_cache: dict[str, tuple[float, list[Target]]] = {}


def load(path: Path) -> list[Target]:
    """The targets in ``path`` (none when it does not exist); re-read when it changes."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return []
    hit = _cache.get(str(path))
    if hit and hit[0] == mtime:
        return hit[1]
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CrmConfigError(f"{path.name}: not valid YAML ({exc})") from exc
    targets = parse(doc, path.name)
    _cache[str(path)] = (mtime, targets)
    return targets


def targets_path(settings: Any) -> Path:
    p = Path(getattr(settings, "crm_config", "") or "crm.yaml")
    return p if p.is_absolute() else Path(settings.home) / p


def find(settings: Any, name: str) -> Target | None:
    return next((t for t in load(targets_path(settings)) if t.name == name), None)
