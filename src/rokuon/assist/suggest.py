"""Suggestions for one utterance: the top 3 FAQ answers, with the text that triggered
them — or none, for fillers, backchannels (はい、そうです), very short utterances and talk
no entry is about (the fused score stays under the threshold)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from rokuon.assist.retrieval import FaqIndex, IndexCache, RetrievalOptions
from rokuon.text.japanese import tokens

if TYPE_CHECKING:
    from rokuon.config import Settings

LIMIT = 3
MIN_CONTENT_CHARS = 2  # characters of content words (nouns, verbs…) an utterance needs
MAX_TEXT_CHARS = 500  # an utterance is at most 15 s of speech; longer text is cut


def worth_suggesting(text: str) -> bool:
    """False for what no FAQ answers: fillers, はい / ええ / そうです, a name or a number
    on its own — fewer than ``MIN_CONTENT_CHARS`` characters of content words."""
    from rokuon.assist.retrieval import is_content_word

    content = [t for t in tokens(text[:MAX_TEXT_CHARS]) if is_content_word(t)]
    return sum(len(t.surface) for t in content) >= MIN_CONTENT_CHARS


def suggestion_dicts(index: FaqIndex, text: str, *, trigger: str | None = None,
                     limit: int = LIMIT) -> list[dict[str, Any]]:
    """``[{entry_id, question, answer, score, trigger}…]``, best first."""
    text = " ".join(text.split())[:MAX_TEXT_CHARS]
    if not text or not worth_suggesting(text):
        return []
    shown = trigger if trigger is not None else text
    return [{"entry_id": h.doc.entry_id, "question": h.doc.question, "answer": h.doc.answer,
             "score": h.score, "trigger": shown} for h in index.search(text, limit)]


class Suggester:
    """Suggestions from the knowledge base in the database; the index (BM25 and the
    entries' embeddings) is rebuilt only when the knowledge base changed."""

    def __init__(self, options: RetrievalOptions | None = None, limit: int = LIMIT) -> None:
        self.cache = IndexCache(options=options or RetrievalOptions())
        self.limit = limit

    def index(self, s: Session) -> FaqIndex:
        from rokuon.assist import service

        return self.cache.get(service.kb_version(s), lambda: service.active_docs(s))

    def suggest(self, s: Session, text: str, *, trigger: str | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        return suggestion_dicts(self.index(s), text, trigger=trigger,
                                limit=self.limit if limit is None else limit)


def options_of(settings: Settings | None) -> tuple[RetrievalOptions, int]:
    """The retrieval options and number of answers an installation set (``faq_*``
    settings, docs/assist.md); the evaluated defaults otherwise."""
    if settings is None:
        return RetrievalOptions(), LIMIT
    return (replace(RetrievalOptions(), threshold=settings.faq_threshold,
                    weight=settings.faq_dense_weight), settings.faq_suggestions)


_SHARED: dict[tuple[RetrievalOptions, int], Suggester] = {}


def shared_suggester(settings: Settings | None = None) -> Suggester:
    """The process's suggester for these settings (CLI, web API and live calls share
    the index)."""
    key = options_of(settings)
    if key not in _SHARED:
        _SHARED[key] = Suggester(*key)
    return _SHARED[key]
