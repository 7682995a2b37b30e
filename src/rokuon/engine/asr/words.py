"""Word pieces from Whisper back into text."""

from __future__ import annotations

from rokuon.engine.types import Word


def join_words(words: list[Word]) -> str:
    """Concatenate word pieces: Japanese without spaces, Latin words with one."""
    out = ""
    for w in words:
        piece = w.text
        if out and out[-1].isascii() and out[-1].isalnum() and piece[:1].isascii() \
                and piece[:1].isalnum():
            out += " "
        out += piece
    return out
