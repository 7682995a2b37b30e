"""UI text: the security checklist report page (/compliance/report)."""

TEXT: dict[str, dict[str, str]] = {
    "cl_title": {"ja": "安全管理措置チェックリスト", "en": "Security checklist"},
    "cl_help": {"ja": "技術的な項目はこの画面を開くたびにシステムが確認します（「確認済み」）。組織的・人的・物理的な項目は担当者の記録（「記録あり」）です。印刷すると紙の報告書になります。",
                "en": "Technical items are checked by the system each time this page opens "
                      "(\"proven\"); organisational, human and physical items are what a "
                      "person recorded (\"attested\"). Print it for a paper report."},
    "cl_generated": {"ja": "{at} 作成（{by}）", "en": "Made {at} by {by}"},
    "cl_ok_n": {"ja": "適合 {n}", "en": "{n} met"},
    "cl_failed_n": {"ja": "不適合 {n}", "en": "{n} failed"},
    "cl_open_n": {"ja": "未記録 {n}", "en": "{n} open"},
    "cl_pdf": {"ja": "PDFで保存", "en": "Download PDF"},
    "cl_item": {"ja": "項目", "en": "Item"},
    "cl_evidence": {"ja": "根拠", "en": "Evidence"},
    "cl_at": {"ja": "日時", "en": "When"},
    "cl_by": {"ja": "確認者", "en": "By"},
    "cl_kind_proven": {"ja": "システムが確認", "en": "proven by the system"},
    "cl_kind_attested": {"ja": "未記録", "en": "not attested"},
}
