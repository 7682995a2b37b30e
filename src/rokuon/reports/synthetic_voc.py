"""Labelled customer talk for the VOC topic evaluation and tests: calls about one known
topic each, phrased many ways, mixed with the talk every call has (greetings, names,
numbers, fillers) and, for a share of calls, a second topic mentioned in passing — so
a topic model has to find the subject, not the template."""

from __future__ import annotations

import random

# topic → customer sentences (each call draws several)
TOPICS: dict[str, tuple[str, ...]] = {
    "billing": (
        "先月の請求書の金額が高い気がします。", "請求額に身に覚えのない料金が入っています。",
        "引き落としが二重になっているようです。", "料金明細の見方を教えてください。",
        "請求書がまだ届いていません。", "支払い方法を口座振替に変えたいです。",
    ),
    "cancellation": (
        "解約の手続きをお願いしたいです。", "来月で契約をやめたいと思っています。",
        "解約金はかかりますか。", "他社に乗り換えるので解約します。",
        "退会の方法を教えてください。", "契約の更新をしないでほしいです。",
    ),
    "delivery": (
        "注文した商品がまだ届きません。", "配送状況を確認したいです。",
        "届いた荷物の箱が潰れていました。", "配達の日時を変更できますか。",
        "追跡番号で調べても配送中のままです。", "商品が違う住所に配達されたようです。",
    ),
    "login": (
        "アプリにログインできなくなりました。", "パスワードを忘れてしまいました。",
        "認証コードのメールが届きません。", "アカウントがロックされたみたいです。",
        "ログイン画面でエラーが表示されます。", "パスワードの再設定ができません。",
    ),
    "defect": (
        "買ったばかりの製品が故障しました。", "電源が入らなくなりました。",
        "画面が映らないので修理をお願いしたいです。", "保証期間内なら無償で修理できますか。",
        "異音がして動作が止まります。", "交換品を送ってもらえますか。",
    ),
}
COMMON = (
    "もしもし、お世話になっております。", "{name}と申します。", "はい、お願いします。",
    "えーと、ちょっと確認したいことがありまして。", "番号は{digits}です。",
    "はい、わかりました。", "ありがとうございます、助かりました。", "あのー、すみません。",
)
# what a recogniser writes for some of these words (homophones and near misses)
MISHEARD = {"解約": "開約", "請求": "成球", "配送": "廃送", "ログイン": "ロングイン",
            "修理": "集理", "パスワード": "パスワー", "引き落とし": "引き起こし",
            "故障": "古称", "届きません": "時ません"}
NAMES = ("田中", "鈴木", "高橋", "伊藤", "渡辺", "山本", "中村", "小林")


def mishear(rng: random.Random, text: str, rate: float) -> str:
    """``text`` with each word of MISHEARD replaced, with probability ``rate``, by what a
    recogniser wrote for it."""
    for word, heard in MISHEARD.items():
        if rate and word in text and rng.random() < rate:
            text = text.replace(word, heard)
    return text


def customer_talk(rng: random.Random, topic: str, *, aside: str | None = None,
                  misheard: float = 0.0) -> list[tuple[str, str]]:
    """A call's utterances (speaker, text): the customer on ``topic`` (3–4 sentences),
    perhaps one sentence on ``aside``, common talk, and the agent's replies."""
    said = rng.sample(TOPICS[topic], k=rng.randint(3, 4))
    if aside:
        said.append(rng.choice(TOPICS[aside]))
    said += [rng.choice(COMMON).format(name=rng.choice(NAMES),
                                       digits=rng.randint(1000, 9999))
             for _ in range(rng.randint(2, 4))]
    rng.shuffle(said)
    out: list[tuple[str, str]] = [("agent", "お電話ありがとうございます。サポートセンターです。")]
    for text in said:
        out.append(("customer", mishear(rng, text, misheard)))
        out.append(("agent", rng.choice(("かしこまりました。", "確認いたします。",
                                         "承知いたしました。"))))
    return out


def labelled_calls(rng: random.Random, per_topic: int, *, aside_share: float = 0.3,
                   misheard: float = 0.0) -> list[tuple[str, list[tuple[str, str]]]]:
    """(topic, utterances) for ``per_topic`` calls on each topic, shuffled; a share
    ``aside_share`` mentions a second topic, and ``misheard`` is the chance that a
    word of MISHEARD is written as the recogniser heard it."""
    names = list(TOPICS)
    calls = []
    for topic in names:
        for _ in range(per_topic):
            aside = rng.choice([t for t in names if t != topic]) \
                if rng.random() < aside_share else None
            calls.append((topic, customer_talk(rng, topic, aside=aside, misheard=misheard)))
    rng.shuffle(calls)
    return calls
