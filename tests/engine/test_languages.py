"""Configuration refuses what the recogniser cannot do, naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from rokuon.config import ConfigError, load_settings
from rokuon.engine.asr.languages import WHISPER_LANGUAGES


def test_the_list_is_whisper_s_own() -> None:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert set(_LANGUAGE_CODES) == WHISPER_LANGUAGES


@pytest.mark.parametrize(("key", "value", "message"), [
    ("asr_language", "jp", r"configuration key 'asr_language': .*'jp' is not a language"),
    ("asr_cpu_isa", "AVX9", r"configuration key 'asr_cpu_isa': .*unknown instruction set"),
])
def test_bad_asr_settings_are_one_line_naming_the_key(tmp_path: Path, key: str, value: str,
                                                       message: str) -> None:
    with pytest.raises(ConfigError, match=message) as exc:
        load_settings(home=tmp_path, **{key: value})
    assert "\n" not in str(exc.value)
    assert load_settings(home=tmp_path, asr_language="auto").asr_language == "auto"
