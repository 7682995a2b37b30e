"""The FAQ assist's installation settings: how many answers, the score an entry needs,
and live suggestions switched off (the /faq page and the CLI still answer)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from rokuon.access.principal import Principal
from rokuon.assist import knowledge, service
from rokuon.assist.suggest import shared_suggester
from tests.assist.test_live_assist import _final, _Session

ASKED = "えっと、解約の手続きをしたいんですが、どうすればいいですか"


def _kb(rt) -> None:  # type: ignore[no-untyped-def]
    with rt.db.session() as s:
        service.import_items(s, Principal.cli(), knowledge.parse_file(
            knowledge.default_file()), source="faq_ja.csv")


def test_number_of_answers_and_threshold(rt) -> None:  # type: ignore[no-untyped-def]
    _kb(rt)
    with rt.db.session() as s:
        default = shared_suggester(rt.settings).suggest(s, ASKED)
        one = shared_suggester(rt.settings.model_copy(update={"faq_suggestions": 1})
                               ).suggest(s, ASKED)
        strict = shared_suggester(rt.settings.model_copy(update={"faq_threshold": 0.99})
                                  ).suggest(s, ASKED)
    assert default and default[0]["question"] == "解約の手続き方法を知りたい"
    assert len(default) <= 3 and one == default[:1]
    assert strict == []  # no entry scores 0.99


def test_out_of_range_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from rokuon.config import ConfigError, load_settings

    monkeypatch.setenv("ROKUON_FAQ_THRESHOLD", "1.5")
    with pytest.raises(ConfigError, match="faq_threshold.*less than or equal to 1"):
        load_settings()


@pytest.fixture
def faq_live_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROKUON_FAQ_LIVE", "false")


def test_live_suggestions_off(faq_live_off, client: TestClient, installation) -> None:  # type: ignore[no-untyped-def]
    _, rt = installation
    assert rt.settings.faq_live is False
    _kb(rt)
    hub = client.app.state.live_hub  # type: ignore[attr-defined]
    hub.board.opened(_Session("c-live-2", "sato", "A"))
    hub.board.on_text(_final("c-live-2", "customer", 4.0, ASKED))
    time.sleep(1.0)
    assert hub.assist.stats["submitted"] == 0  # nothing asked while calls run
    with rt.db.session() as s:  # outside calls the assist still answers
        assert shared_suggester(rt.settings).suggest(s, ASKED)
