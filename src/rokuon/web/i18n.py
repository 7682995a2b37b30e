"""UI text in Japanese and English. The language comes from ?lang=, the ``lang``
cookie, or Accept-Language; Japanese by default."""

from __future__ import annotations

from fastapi import Request

LANGS = ("ja", "en")

TEXT: dict[str, dict[str, str]] = {
    "app_name": {"ja": "rokuon 録音", "en": "rokuon"},
    "sign_in": {"ja": "サインイン", "en": "Sign in"},
    "sign_out": {"ja": "サインアウト", "en": "Sign out"},
    "email": {"ja": "メールアドレス", "en": "E-mail"},
    "password": {"ja": "パスワード", "en": "Password"},
    "bad_login": {"ja": "メールアドレスまたはパスワードが正しくありません。",
                  "en": "Wrong e-mail or password."},
    "change_password": {"ja": "パスワードの変更", "en": "Change password"},
    "change_password_intro": {
        "ja": "初回サインインです。新しいパスワード（12文字以上）を設定してください。",
        "en": "First sign-in: choose a new password (at least 12 characters)."},
    "new_password": {"ja": "新しいパスワード", "en": "New password"},
    "save": {"ja": "保存", "en": "Save"},
    "calls": {"ja": "通話一覧", "en": "Calls"},
    "search": {"ja": "検索", "en": "Search"},
    "search_placeholder": {"ja": "通話内容を検索（例：解約）", "en": "Search transcripts"},
    "started_at": {"ja": "開始日時", "en": "Started"},
    "duration": {"ja": "通話時間", "en": "Duration"},
    "agent": {"ja": "オペレーター", "en": "Agent"},
    "customer": {"ja": "お客様", "en": "Customer"},
    "direction": {"ja": "方向", "en": "Direction"},
    "inbound": {"ja": "受電", "en": "Inbound"},
    "outbound": {"ja": "架電", "en": "Outbound"},
    "status": {"ja": "状態", "en": "Status"},
    "from": {"ja": "開始日", "en": "From"},
    "to": {"ja": "終了日", "en": "To"},
    "any": {"ja": "すべて", "en": "Any"},
    "filter": {"ja": "絞り込み", "en": "Filter"},
    "no_calls": {"ja": "通話はまだありません。", "en": "No calls yet."},
    "no_hits": {"ja": "該当する発話はありません。", "en": "No matching lines."},
    "hits": {"ja": "検索結果", "en": "Matches"},
    "upload": {"ja": "録音をアップロード", "en": "Upload a recording"},
    "upload_button": {"ja": "アップロード", "en": "Upload"},
    "transcript": {"ja": "文字起こし", "en": "Transcript"},
    "not_ready": {"ja": "処理中です（状態: {status}）。しばらくしてから再読み込みしてください。",
                  "en": "Processing (status: {status}). Reload in a moment."},
    "failed": {"ja": "処理に失敗しました", "en": "Processing failed"},
    "details": {"ja": "詳細", "en": "Details"},
    "queue": {"ja": "キュー", "en": "Queue"},
    "customer_number": {"ja": "顧客番号", "en": "Customer number"},
    "diarized": {"ja": "話者分離（モノラル）信頼度", "en": "Diarized (mono), confidence"},
    "back": {"ja": "一覧へ戻る", "en": "Back to calls"},
    "talk": {"ja": "発話時間", "en": "Talk time"},
    "silence": {"ja": "無音", "en": "Silence"},
    "overlap": {"ja": "同時発話", "en": "Overlap"},
    "seconds": {"ja": "秒", "en": "s"},
    "locked": {"ja": "サインインの失敗が続いたため、一時的にロックされています。15分後にお試しください。",
               "en": "Too many failed sign-ins: the account is locked for 15 minutes."},
    "mfa": {"ja": "二要素認証", "en": "Two-factor authentication"},
    "mfa_intro": {"ja": "認証アプリの6桁のコード、またはリカバリーコードを入力してください。",
                  "en": "Enter the 6-digit code from your authenticator app, or a recovery code."},
    "mfa_setup": {"ja": "二要素認証の設定", "en": "Set up two-factor authentication"},
    "mfa_setup_intro": {
        "ja": "この役割では二要素認証が必須です。認証アプリでQRコードを読み取り、表示された6桁のコードを入力してください。",
        "en": "Your role requires two-factor authentication. Scan the QR code with an "
              "authenticator app and enter the 6-digit code it shows."},
    "secret": {"ja": "手入力用キー", "en": "Key for manual entry"},
    "code": {"ja": "コード", "en": "Code"},
    "verify": {"ja": "確認", "en": "Verify"},
    "bad_code": {"ja": "コードが正しくありません。", "en": "Wrong code."},
    "recovery_codes": {"ja": "リカバリーコード（一度だけ表示されます。安全な場所に保管してください）",
                       "en": "Recovery codes (shown once: keep them somewhere safe)"},
    "continue": {"ja": "続ける", "en": "Continue"},
    "audit": {"ja": "監査ログ", "en": "Audit log"},
    "actor": {"ja": "操作者", "en": "Actor"},
    "action": {"ja": "操作", "en": "Action"},
    "object": {"ja": "対象", "en": "Object"},
    "purpose": {"ja": "利用目的", "en": "Purpose"},
    "outcome": {"ja": "結果", "en": "Outcome"},
    "time": {"ja": "日時", "en": "Time"},
    "export_csv": {"ja": "CSVで出力", "en": "Export CSV"},
    "purpose_required": {"ja": "再生するには利用目的を選んでください", "en": "Choose the purpose of use to play"},
}


def pick_lang(request: Request) -> str:
    q = request.query_params.get("lang")
    if q in LANGS:
        return q
    c = request.cookies.get("lang")
    if c in LANGS:
        return c
    accept = request.headers.get("accept-language", "")
    for part in accept.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return "ja"


def translator(lang: str):  # type: ignore[no-untyped-def]
    def t(key: str, **kw: object) -> str:
        entry = TEXT.get(key)
        s = entry.get(lang, entry["en"]) if entry else key
        return s.format(**kw) if kw else s

    return t
