"""Analysis configuration: word lists, phrase patterns, thresholds and scorecards as
data. Defaults ship in ``defaults/*.yaml``; an installation adds or replaces entries
with its own YAML files (same keys; a list given there replaces the default list)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DEFAULTS = Path(__file__).with_name("defaults")


class AnalysisConfigError(ValueError):
    pass


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AnalysisConfigError(f"{path.name}: cannot read analysis config: {exc}") from exc
    if not isinstance(data, dict):
        raise AnalysisConfigError(f"{path.name}: analysis config must be a mapping")
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


@lru_cache(maxsize=8)
def _load(paths: tuple[str, ...]) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    for f in sorted(DEFAULTS.glob("*.yaml")):
        cfg = _merge(cfg, _read(f))
    for p in paths:
        path = Path(p)
        files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
        for f in files:
            if not f.exists():
                raise AnalysisConfigError(f"{f}: analysis config file not found")
            cfg = _merge(cfg, _read(f))
    return cfg


def load_config(paths: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """Defaults merged with the given YAML files or directories (later wins)."""
    return _load(tuple(str(p) for p in paths))
