"""The initial-prompt setting."""

from rokuon.engine.asr.transcribe import VERBATIM_PROMPT_JA, prompt_for


def test_prompt_setting() -> None:
    assert prompt_for("") is None and prompt_for(None) is None
    assert prompt_for("verbatim") == VERBATIM_PROMPT_JA and "えーと" in VERBATIM_PROMPT_JA
    assert prompt_for("山田商事のサポートです。") == "山田商事のサポートです。"
