"""FAQ files: CSV and Markdown parsed into entries; a bad file is refused whole with a
one-line message that names the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from rokuon.assist import knowledge
from rokuon.assist.knowledge import FaqFormatError, parse_bytes, parse_file

CSV = ("question,answer,tags\n"
       "解約したい,マイページから手続きできます。,\"解約,退会\"\n"
       "\n"
       "\"住所を変更したい\",\"登録情報の変更から、\n翌営業日に反映されます。\",住所変更\n"
       "How do I reset my password?,Use the link on the sign-in page.,password\n")

MARKDOWN = """# よくある質問

この文書は例です（最初の ## より前は無視されます）。

## 解約したい

マイページの「ご契約内容」から手続きできます。

解約日は月末です。
Tags: 解約、退会

## How do I reset my password?
Language: en
Use the link on the sign-in page.

```
## not a heading inside a code block
```
"""


def test_csv_entries_with_tags_quotes_and_languages() -> None:
    items = parse_bytes(CSV.encode(), "faq.csv")
    assert [i.question for i in items] == ["解約したい", "住所を変更したい",
                                           "How do I reset my password?"]
    assert items[0].tags == ("解約", "退会") and items[0].language == "ja"
    assert items[1].answer == "登録情報の変更から、\n翌営業日に反映されます。"
    assert items[2].language == "en" and items[2].tags == ("password",)


def test_csv_in_shift_jis_with_japanese_headers_and_a_bom() -> None:
    sjis = "質問,回答,タグ\n領収書がほしい,PDFでダウンロードできます。,領収書\n".encode("cp932")
    assert parse_bytes(sjis, "excel.csv")[0].question == "領収書がほしい"
    bom = b"\xef\xbb\xbf" + CSV.encode()
    assert len(parse_bytes(bom, "bom.csv")) == 3


def test_markdown_sections_paragraphs_tags_and_language() -> None:
    items = parse_bytes(MARKDOWN.encode(), "faq.md")
    assert [i.question for i in items] == ["解約したい", "How do I reset my password?"]
    assert items[0].answer == "マイページの「ご契約内容」から手続きできます。\n\n解約日は月末です。"
    assert items[0].tags == ("解約", "退会")
    assert items[1].language == "en"
    assert "## not a heading" in items[1].answer  # a code block stays in the answer


@pytest.mark.parametrize(("name", "text", "message"), [
    ("a.csv", "question,answer\n解約したい,できます\n住所,\n",
     "a.csv line 3: the answer is empty"),
    ("b.csv", "question,answer\n解約したい,できます\n解約したい,二度目\n",
     "b.csv line 3: the question '解約したい' is already on line 2"),
    ("c.csv", "question,reply\nx,y\n", "c.csv line 1: unknown column 'reply'"),
    ("d.csv", "question,tags\nx,y\n", "d.csv line 1: the header lacks the column answer"),
    ("e.csv", "question,answer\n解約,できます,余分\n", "e.csv line 2: 3 fields"),
    ("f.csv", "question,answer\n\"解約,できます\n", "f.csv line 2"),
    ("g.csv", "", "g.csv: the file is empty"),
    ("h.csv", "question,answer\n", "h.csv: no FAQ entries found"),
    ("i.csv", "question,answer,language\nx,y,日本語\n", "i.csv line 2: language '日本語'"),
    ("j.md", "# title\n\n## 解約したい\n\n## 住所\n変更できます\n",
     "j.md line 3: the answer is empty"),
    ("k.md", "## \nanswer\n", "k.md line 1: a '##' heading without a question"),
    ("l.md", "## q\n```\nopen fence\n", "l.md: a ``` code block is not closed"),
    ("m.md", "just text, no heading\n", "m.md: no FAQ entries found"),
    ("n.txt.pdf", "x", "n.txt.pdf: an FAQ file is .csv"),
])
def test_bad_files_name_the_file_and_line(name: str, text: str, message: str) -> None:
    with pytest.raises(FaqFormatError) as err:
        parse_bytes(text.encode(), name)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


def test_limits_and_encodings_are_refused_with_the_reason() -> None:
    long_q = "あ" * (knowledge.MAX_QUESTION_CHARS + 1)
    with pytest.raises(FaqFormatError, match=r"big.csv line 2: the question has 301 "
                                             r"characters \(at most 300\)"):
        parse_bytes(f"question,answer\n{long_q},a\n".encode(), "big.csv")
    many = "question,answer\n" + "".join(f"q{i},a\n" for i in range(knowledge.MAX_ENTRIES + 1))
    with pytest.raises(FaqFormatError, match=r"many.csv: 2001 entries \(at most 2000\)"):
        parse_bytes(many.encode(), "many.csv")
    with pytest.raises(FaqFormatError, match="huge.md: .* at most 2 MiB"):
        parse_bytes(b"#" * (knowledge.MAX_FILE_BYTES + 1), "huge.md")
    with pytest.raises(FaqFormatError, match="bin.csv: not UTF-8 or Shift_JIS"):
        parse_bytes(b"question,answer\n\x81 x,y\n", "bin.csv")
    with pytest.raises(FaqFormatError, match="nul.md: binary data"):
        parse_bytes(b"## q\x00\nanswer\n", "nul.md")
    tags = ",".join(f"t{i}" for i in range(knowledge.MAX_TAGS + 1))
    with pytest.raises(FaqFormatError, match="tags.csv line 2: 11 tags"):
        parse_bytes(f'question,answer,tags\nq,a,"{tags}"\n'.encode(), "tags.csv")


def test_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(FaqFormatError, match="gone.csv: cannot be read"):
        parse_file(tmp_path / "gone.csv")


def test_the_shipped_faq_parses() -> None:
    items = parse_file(knowledge.default_file())
    assert len(items) >= 30 and all(i.language == "ja" and i.tags for i in items)
    assert any("解約" in i.question for i in items)
