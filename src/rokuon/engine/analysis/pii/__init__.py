"""Personal data in a call: names, the agent's own name, addresses, phone numbers,
e-mail addresses, card numbers / expiry / security codes, My Number, bank accounts and
dates of birth — found in the transcript as Whisper writes speech.

Numbers are read the way they are spoken: 「090の3456の7812」, full-width digits,
kanji digits 〇一二…九, katakana readings (ゼロキューゼロ…), separators (、 - の space)
and digits split over consecutive segments of one speaker (a card read in two or three
goes). What a number is comes from its structure (Luhn, My Number check digit, phone
prefixes) and from the nearest preceding context word (カード番号, 有効期限,
お問い合わせ番号 …, in either speaker's recent segments; lists in defaults/pii.yaml).
Names and addresses come from GiNZA's named entities (loaded lazily, once per process)
plus Sudachi's proper-noun tags; without GiNZA the detector runs on rules alone.

A finding records type, speaker, times and character positions, never the value: the
stored analysis must not hold card numbers. ``mask_segments`` replaces the characters
of chosen findings by ＊ (PCI mode masks card numbers and security codes).

The package: ``spoken`` (digits in any spoken form), ``numbers`` (what a run of
digits is), ``pci`` (card data asked for and answered), ``dates``, ``emails``,
``addresses``, ``names``, ``ner`` (GiNZA), ``detector`` and ``masking``."""

from __future__ import annotations

from rokuon.engine.analysis.pii.common import MASK, NER_MODEL, PCI_TYPES, TYPES, VERSION
from rokuon.engine.analysis.pii.detector import analyze, detect
from rokuon.engine.analysis.pii.masking import mask_segments
from rokuon.engine.analysis.pii.ner import load_ner, ner_error
from rokuon.engine.analysis.pii.numbers import luhn_ok, my_number_ok

__all__ = ["MASK", "NER_MODEL", "PCI_TYPES", "TYPES", "VERSION", "analyze", "detect",
           "load_ner", "luhn_ok", "mask_segments", "my_number_ok", "ner_error"]
