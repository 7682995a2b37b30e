"""The ingest metadata sidecar (CONTRACT.md): validated, unknown keys kept."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ROLES = ("agent", "customer")


class MetadataError(ValueError):
    pass


class CallMetadata(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    agent: str | None = Field(default=None, max_length=200)
    customer_number: str | None = Field(default=None, max_length=64)
    direction: Literal["inbound", "outbound"] | None = None
    started_at: datetime | None = None
    queue: str | None = Field(default=None, max_length=200)
    purposes: list[str] | None = None
    channels: list[str] | None = None  # per-call channel roles, e.g. ["customer", "agent"]

    @field_validator("channels")
    @classmethod
    def _roles(cls, v: list[str] | None) -> list[str] | None:
        return validate_channel_roles(v) if v is not None else None

    def extra(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})

    def started_at_aware(self, tz: str) -> datetime | None:
        if self.started_at is None:
            return None
        if self.started_at.tzinfo is None:
            return self.started_at.replace(tzinfo=ZoneInfo(tz))
        return self.started_at


def validate_channel_roles(roles: list[str]) -> list[str]:
    if len(roles) != 2 or set(roles) != set(ROLES):
        raise ValueError(f"channel roles must be 'agent,customer' or 'customer,agent', "
                         f"got {','.join(roles) or 'nothing'}")
    return roles


def _describe(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "(document)"
    return f"{source}: metadata key '{key}': {err['msg']}"


def parse_metadata(raw: str | bytes, *, source: str = "metadata") -> CallMetadata:
    """Parse and validate a metadata JSON document; errors name the key."""
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MetadataError(f"{source}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise MetadataError(f"{source}: metadata must be a JSON object, got {type(doc).__name__}")
    try:
        # JSON mode: ISO 8601 strings become datetimes; "123" is not accepted for a list etc.
        return CallMetadata.model_validate_json(json.dumps(doc), strict=True)
    except ValidationError as exc:
        raise MetadataError(_describe(exc, source)) from exc
