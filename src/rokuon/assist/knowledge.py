"""FAQ entries as data: parse and check CSV and Markdown files.

CSV: a header row naming the columns ``question``, ``answer`` and optionally ``tags``
and ``language`` (or 質問, 回答, タグ, 言語), then one entry per row; tags are separated
by ``,`` ``、`` ``;`` or ``|``. UTF-8 (with or without BOM) or Shift_JIS (Excel).

Markdown: each ``## question`` heading starts an entry, the paragraphs under it are the
answer; a line ``Tags: a, b`` (``タグ:``) or ``Language: en`` (``言語:``) in the section
sets those. Text before the first ``##`` heading (a ``# title``, an introduction) is
ignored.

Every problem is a :class:`FaqFormatError` whose one-line message names the file and
line; a file either parses whole or not at all.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ENTRIES = 2000  # in a file, and in the knowledge base
MAX_QUESTION_CHARS = 300
MAX_ANSWER_CHARS = 4000
MAX_TAGS = 10
MAX_TAG_CHARS = 40
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
_TAG_SPLIT = re.compile(r"[,、;；|｜，]")
_COLUMNS = {"question": "question", "質問": "question", "answer": "answer",
            "回答": "answer", "tags": "tags", "タグ": "tags", "language": "language",
            "言語": "language"}
_MD_FIELD = re.compile(r"^(tags|タグ|language|言語)\s*[:：]\s*(.*)$", re.IGNORECASE)


class FaqFormatError(ValueError):
    """A bad FAQ file or entry; the message names the file/field and line."""


@dataclass(frozen=True)
class FaqItem:
    question: str
    answer: str
    tags: tuple[str, ...] = field(default_factory=tuple)
    language: str = "ja"


def _control_chars(text: str) -> list[str]:
    return sorted({f"U+{ord(c):04X}" for c in text
                   if unicodedata.category(c) == "Cc" and c not in "\t\n\r"})


def split_tags(raw: str) -> tuple[str, ...]:
    seen: list[str] = []
    for t in _TAG_SPLIT.split(raw):
        t = " ".join(t.split())
        if t and t not in seen:
            seen.append(t)
    return tuple(seen)


def guess_language(text: str) -> str:
    from rokuon.text.japanese import has_japanese

    return "ja" if has_japanese(text) else "en"


def check_item(question: str, answer: str, tags: tuple[str, ...] | list[str] = (),
               language: str | None = None, *, where: str = "entry") -> FaqItem:
    """One entry, trimmed and checked against the limits (``where`` starts the error
    message: "faq.csv line 7", "entry 12")."""
    question = " ".join((question or "").split())
    answer = "\n".join(line.rstrip() for line in (answer or "").strip().splitlines())
    if not question:
        raise FaqFormatError(f"{where}: the question is empty")
    if not answer:
        raise FaqFormatError(f"{where}: the answer is empty (question {question[:40]!r})")
    for name, text in (("question", question), ("answer", answer)):
        bad = _control_chars(text)
        if bad:
            raise FaqFormatError(f"{where}: the {name} contains control characters "
                                 f"({', '.join(bad[:5])})")
    if len(question) > MAX_QUESTION_CHARS:
        raise FaqFormatError(f"{where}: the question has {len(question)} characters "
                             f"(at most {MAX_QUESTION_CHARS})")
    if len(answer) > MAX_ANSWER_CHARS:
        raise FaqFormatError(f"{where}: the answer has {len(answer)} characters "
                             f"(at most {MAX_ANSWER_CHARS})")
    clean = tuple(dict.fromkeys(" ".join(t.split()) for t in tags if t and t.strip()))
    if len(clean) > MAX_TAGS:
        raise FaqFormatError(f"{where}: {len(clean)} tags (at most {MAX_TAGS})")
    for t in clean:
        if len(t) > MAX_TAG_CHARS or _control_chars(t):
            raise FaqFormatError(f"{where}: the tag {t[:50]!r} is longer than "
                                 f"{MAX_TAG_CHARS} characters or has control characters")
    lang = (language or "").strip() or guess_language(question + answer)
    if not LANGUAGE.match(lang):
        raise FaqFormatError(f"{where}: language {lang[:20]!r} is not a language code "
                             "such as ja or en")
    return FaqItem(question, answer, clean, lang.lower())


def decode(data: bytes, name: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise FaqFormatError(f"{name}: {len(data)} bytes; an FAQ file may have at most "
                             f"{MAX_FILE_BYTES // (1024 * 1024)} MiB")
    for enc in ("utf-8-sig", "cp932"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise FaqFormatError(f"{name}: not UTF-8 or Shift_JIS text")


def _unique(items: list[tuple[int, FaqItem]], name: str) -> list[FaqItem]:
    from rokuon.text.normalize import normalize

    if not items:
        raise FaqFormatError(f"{name}: no FAQ entries found")
    if len(items) > MAX_ENTRIES:
        raise FaqFormatError(f"{name}: {len(items)} entries (at most {MAX_ENTRIES})")
    first: dict[str, int] = {}
    for line, item in items:
        key = normalize(item.question)
        if key in first:
            raise FaqFormatError(f"{name} line {line}: the question {item.question[:40]!r} "
                                 f"is already on line {first[key]}")
        first[key] = line
    return [item for _, item in items]


def parse_csv(text: str, name: str = "FAQ CSV") -> list[FaqItem]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise FaqFormatError(f"{name}: the file is empty")
        cols: dict[str, int] = {}
        for i, h in enumerate(header):
            key = _COLUMNS.get(h.strip().lower())
            if key is None:
                raise FaqFormatError(
                    f"{name} line 1: unknown column {h.strip()[:40]!r} (expected question, "
                    "answer and optionally tags, language)")
            if key in cols:
                raise FaqFormatError(f"{name} line 1: the column {key} appears twice")
            cols[key] = i
        missing = [c for c in ("question", "answer") if c not in cols]
        if missing:
            raise FaqFormatError(f"{name} line 1: the header lacks the column "
                                 f"{' and '.join(missing)} (expected question,answer[,tags])")
        items: list[tuple[int, FaqItem]] = []
        line = reader.line_num + 1
        for row in reader:
            if not any(c.strip() for c in row):
                line = reader.line_num + 1
                continue
            where = f"{name} line {line}"
            if len(row) > len(header):
                raise FaqFormatError(f"{where}: {len(row)} fields, the header has "
                                     f"{len(header)} (quote a field that has commas)")

            def get(col: str, row: list[str] = row) -> str:
                i = cols.get(col)
                return row[i] if i is not None and i < len(row) else ""

            items.append((line, check_item(get("question"), get("answer"),
                                           split_tags(get("tags")), get("language") or None,
                                           where=where)))
            line = reader.line_num + 1
            if len(items) > MAX_ENTRIES:
                break
    except csv.Error as exc:
        raise FaqFormatError(f"{name} line {reader.line_num}: {exc}") from exc
    return _unique(items, name)


def parse_markdown(text: str, name: str = "FAQ Markdown") -> list[FaqItem]:
    items: list[tuple[int, FaqItem]] = []
    current: tuple[int, str] | None = None
    body: list[str] = []
    tags: tuple[str, ...] = ()
    lang: str | None = None
    fence = False

    def close() -> None:
        if current is not None:
            items.append((current[0], check_item(current[1], "\n".join(body), tags, lang,
                                                 where=f"{name} line {current[0]}")))

    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if line.lstrip().startswith("```"):
            fence = not fence
        if not fence and re.match(r"^##(?!#)", line):
            close()
            current, body, tags, lang = (n, line[2:].strip()), [], (), None
            if not current[1]:
                raise FaqFormatError(f"{name} line {n}: a '##' heading without a question")
            continue
        if current is None:
            continue  # title and introduction
        m = None if fence else _MD_FIELD.match(line.strip())
        if m:
            if m.group(1).lower() in ("tags", "タグ"):
                tags = split_tags(m.group(2))
            else:
                lang = m.group(2).strip()
            continue
        body.append(line)
        if len(items) > MAX_ENTRIES:
            break
    if fence:
        raise FaqFormatError(f"{name}: a ``` code block is not closed")
    close()
    return _unique(items, name)


def parse_bytes(data: bytes, name: str) -> list[FaqItem]:
    """A file's bytes by its name: ``.csv``; ``.md`` / ``.markdown`` / ``.txt``."""
    suffix = Path(name).suffix.lower()
    if suffix not in (".csv", ".md", ".markdown", ".txt"):
        raise FaqFormatError(f"{name}: an FAQ file is .csv (question,answer[,tags]) or .md "
                             "(## question, then the answer)")
    text = decode(data, name)
    if "\x00" in text:
        raise FaqFormatError(f"{name}: binary data (NUL bytes), not a text file")
    return parse_csv(text, name) if suffix == ".csv" else parse_markdown(text, name)


def parse_file(path: Path) -> list[FaqItem]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FaqFormatError(f"{path.name}: {size} bytes; an FAQ file may have at "
                                 f"most {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        data = path.read_bytes()
    except OSError as exc:
        raise FaqFormatError(f"{path.name}: cannot be read ({exc.strerror or exc})") from exc
    return parse_bytes(data, path.name)


DEFAULTS_DIR = Path(__file__).parent / "defaults"


def default_file(language: str = "ja") -> Path:
    """The FAQ shipped with rokuon (a contact center's everyday questions)."""
    return DEFAULTS_DIR / f"faq_{language}.csv"
