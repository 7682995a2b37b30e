"""Domain vocabulary: the words this center cares about, given to Whisper as hotwords.

Whisper decodes each window conditioned on a short text (faster-whisper's
``hotwords`` go where a previous window's text would): words in it become more
likely, so 録音, 解約 and the company's own names are heard as such instead of as
欲温, 開約 or a near-sounding common word. The budget is small (Whisper's prompt
holds 223 tokens, half of which faster-whisper keeps for hotwords), so the list is
ordered by priority and cut at :data:`MAX_CHARS`.

A per-installation file (YAML) adds terms::

    vocabulary:
      terms: [山田商事, スカイモバイル, 光回線, 解約]

Pure: the caller gathers the terms (file + configured word lists) and passes them in.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import yaml

MAX_FILE_TERMS = 500  # more is a word list pasted by mistake, not a vocabulary
MAX_TERM_CHARS = 40
MAX_CHARS = 150  # ~ 100 tokens of Japanese: what fits beside the audio context


class VocabularyError(ValueError):
    pass


def load_file(path: Path) -> list[str]:
    """The terms of a vocabulary file; a one-line error naming the file otherwise."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise VocabularyError(f"vocabulary file {path}: cannot read it ({exc.strerror})"
                              ) from exc
    except UnicodeDecodeError as exc:
        raise VocabularyError(f"vocabulary file {path}: not UTF-8 text") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise VocabularyError(f"vocabulary file {path}: YAML syntax error{where}") from exc
    if data is None:
        return []
    terms = data.get("vocabulary", {}).get("terms") if isinstance(data, dict) else None
    if isinstance(data, dict) and isinstance(data.get("vocabulary"), dict) and terms is None:
        return []
    if not isinstance(terms, list):
        raise VocabularyError(f"vocabulary file {path}: expected 'vocabulary: terms: "
                              "[word, …]'")
    if len(terms) > MAX_FILE_TERMS:
        raise VocabularyError(f"vocabulary file {path}: {len(terms)} terms, at most "
                              f"{MAX_FILE_TERMS} (Whisper can only be biased toward a few "
                              "dozen; keep the words that matter)")
    out = []
    for i, t in enumerate(terms, 1):
        if not isinstance(t, str | int | float) or isinstance(t, bool):
            raise VocabularyError(f"vocabulary file {path}: term {i} is not a word")
        word = clean(str(t))
        if len(word) > MAX_TERM_CHARS:
            raise VocabularyError(f"vocabulary file {path}: term {i} is longer than "
                                  f"{MAX_TERM_CHARS} characters")
        if word:
            out.append(word)
    return out


def clean(term: str) -> str:
    """NFC, no control characters, single spaces."""
    text = unicodedata.normalize("NFC", term)
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")
    return " ".join(text.split())


def hotwords(terms: list[str], max_chars: int = MAX_CHARS) -> str | None:
    """The hotword text: unique terms in priority order, separated by Japanese commas,
    cut at ``max_chars``; None when empty."""
    seen: set[str] = set()
    picked: list[str] = []
    size = 0
    for t in terms:
        word = clean(t)
        key = unicodedata.normalize("NFKC", word).casefold()
        if not word or key in seen:
            continue
        if size + len(word) + 1 > max_chars:
            continue  # a shorter later term may still fit
        seen.add(key)
        picked.append(word)
        size += len(word) + 1
    return "、".join(picked) or None
