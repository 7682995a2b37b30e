"""GiNZA named entities, loaded lazily once per process (rules only without it)."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from rokuon.engine.analysis.pii.common import _NER_CACHE, NER_MODEL, log

# ---------------------------------------------------------------------------------------
# GiNZA named entities, loaded lazily once per process

_ner_lock = threading.Lock()
_ner_state: dict[str, Any] = {}  # "nlp": the pipeline, or "error": why it did not load


def load_ner() -> Any | None:
    with _ner_lock:
        if "nlp" in _ner_state or "error" in _ner_state:
            return _ner_state.get("nlp")
        try:
            import spacy

            nlp = spacy.load(NER_MODEL, disable=["parser", "morphologizer",
                                                 "compound_splitter", "bunsetu_recognizer"])
        except Exception as exc:  # noqa: BLE001 - any failure means rules only
            _ner_state["error"] = f"{type(exc).__name__}: {exc}"
            log.warning("pii: named entity model %s unavailable (%s); rules only",
                        NER_MODEL, _ner_state["error"])
            return None
        _ner_state["nlp"] = nlp
        return nlp


def ner_error() -> str | None:
    """Why GiNZA could not be loaded (None when it loaded or was never tried)."""
    return _ner_state.get("error")


@lru_cache(maxsize=_NER_CACHE)
def _entities(text: str) -> tuple[tuple[str, int, int], ...]:
    nlp = load_ner()
    if nlp is None:
        return ()
    try:
        with _ner_lock:  # spaCy / Sudachi pipelines are not thread-safe
            doc = nlp(text)
    except Exception as exc:  # noqa: BLE001 - an odd text must not lose the call
        log.warning("pii: named entity recognition failed: %s", exc)
        return ()
    return tuple((e.label_, e.start_char, e.end_char) for e in doc.ents)

