"""UI text: the real-time rules editor (web.live_rules_web)."""

TEXT: dict[str, dict[str, str]] = {
    "lr_title": {"ja": "リアルタイム検知ルール", "en": "Real-time rules"},
    "lr_help": {"ja": "通話中の文字起こしに対する条件と、そのときに出すアラートの種類です。保存すると数秒以内に通話中の通話にも適用されます。各ルールは1通話につき1回だけ発火します。",
                "en": "Conditions on the transcript of a call in progress and the alert each "
                      "raises. A save applies within seconds, to calls already running too. "
                      "Each rule fires at most once per call."},
    "lr_saved": {"ja": "第{n}版を保存しました。通話中の通話にも数秒以内に適用されます。",
                 "en": "Version {n} saved; it applies within seconds, also to calls in "
                       "progress."},
    "lr_on": {"ja": "有効", "en": "On"},
    "lr_name": {"ja": "ルール名", "en": "Name"},
    "lr_when": {"ja": "条件", "en": "When"},
    "lr_kind": {"ja": "アラートの種類", "en": "Alert kind"},
    "lr_threshold": {"ja": "しきい値", "en": "Threshold"},
    "lr_seconds": {"ja": "秒数", "en": "Seconds"},
    "lr_within_s": {"ja": "開始から○秒以内", "en": "within N s"},
    "lr_over_s": {"ja": "○秒を超える", "en": "over N s"},
    "lr_count": {"ja": "ルール数", "en": "Rules"},
    "lr_no_history": {"ja": "まだ編集されていません（設定ファイルのルールを使用中）。", "en": "Not edited yet (the configuration's rules apply)."},
    "lr_edit": {"ja": "検知ルールの編集", "en": "Edit the rules"},
    "lr_when_complaint_score": {"ja": "苦情スコアがしきい値以上", "en": "Complaint score ≥ threshold"},
    "lr_when_abusive_cue": {"ja": "カスハラの兆候", "en": "Abusive customer cue"},
    "lr_when_keyword": {"ja": "キーワードリストの語", "en": "A word of a keyword list"},
    "lr_when_phrase": {"ja": "フレーズの発話", "en": "A phrase is said"},
    "lr_when_no_announcement": {"ja": "録音の告知がない", "en": "No recording announcement"},
    "lr_when_card_data": {"ja": "カード情報の発話", "en": "Card data spoken"},
    "lr_when_silence": {"ja": "沈黙が続く", "en": "Long silence"},
    "lr_kind_complaint": {"ja": "苦情", "en": "Complaint"},
    "lr_kind_ng_word": {"ja": "NGワード", "en": "NG word"},
    "lr_kind_silence": {"ja": "沈黙", "en": "Silence"},
    "lr_kind_no_announcement": {"ja": "録音告知なし", "en": "No announcement"},
    "lr_kind_pci": {"ja": "カード情報", "en": "Card data"},
    "lr_kind_custom": {"ja": "その他", "en": "Custom"},
}
