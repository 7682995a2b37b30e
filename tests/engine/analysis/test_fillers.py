"""Fillers: Sudachi tags tell a filler あの from the demonstrative あの."""

from rokuon.engine.analysis import fillers
from rokuon.engine.analysis.config import load_config
from rokuon.engine.analysis.context import CallInput

from .corpus import call_input, names, seg, truth

CFG = load_config()


def run(inp: CallInput) -> dict:
    return fillers.analyze(inp, CFG, {})


def test_counts_match_labels_on_every_corpus_call() -> None:
    for name in names():
        got = run(call_input(name))
        want = truth(name)["labels"]["fillers"]
        for role in ("agent", "customer"):
            assert got.get(role, {}).get("items", {}) == want.get(role, {}), (name, role)


def test_demonstrative_ano_is_not_a_filler() -> None:
    r = run(CallInput(segments=[seg("customer", 0, 3, "先週お願いしたあの書類は届きましたか。"),
                                seg("customer", 3, 5, "あの件で確認なのですが")],
                      duration_s=5))
    assert r["customer"]["count"] == 0


def test_filler_variants_and_positions() -> None:
    s = seg("agent", 0.0, 6.0, "えーと、あのう、その、まあ、ええ、そうです。")
    r = run(CallInput(segments=[s], duration_s=6))["agent"]
    assert r["items"] == {"えーと": 1, "あのー": 1, "その": 1, "まあ": 1}  # ええ = yes
    first = r["hits"][0]
    assert first["chars"] == [0, 3] and first["segment"] == 0
    assert 0.0 <= first["start"] < first["end"] <= 6.0
    assert r["per_min"] == 40.0  # 4 in 6 s of talk


def test_english_fillers() -> None:
    s = seg("agent", 0, 6, "Um, I mean, the umbrella is, uh, here.")
    r = run(CallInput(segments=[s], duration_s=6))["agent"]
    assert r["items"] == {"um": 1, "i mean": 1, "uh": 1}  # not "umbrella"


def test_canonical_spellings() -> None:
    assert fillers.canonical("あのぉ") == "あのー"
    assert fillers.canonical("アノー") == "あのー"
    assert fillers.canonical("えーーと") == "えーと"
