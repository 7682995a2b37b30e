"""The one configuration object.

Values come from, highest priority first: explicit overrides (CLI flags),
``ROKUON_*`` environment variables, ``$ROKUON_HOME/config.toml``, defaults.
Everything else receives a ``Settings`` instance; nothing reads the
environment deep inside the code.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from rokuon.engine.audio.sandbox import Limits

CONFIG_FILE_NAME = "config.toml"
DEFAULT_HOME = Path("~/.rokuon")


class ConfigError(Exception):
    """The configuration is missing or invalid (message names the key/file)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROKUON_", extra="forbid")

    home: Path = DEFAULT_HOME
    database_url: str | None = None
    # the embedded SQLite database is a SQLCipher file, its key wrapped by the KEK
    # (store/dbcrypt.py); PostgreSQL: encrypt below it (docs/security.md)
    database_encryption: bool = True

    # ASR engine
    asr_model: str = "packaged"  # "packaged" | local directory | model hub name
    asr_language: str = "ja"  # "auto" lets Whisper detect the language
    asr_beam_size: int = 5
    asr_device: str = "cpu"
    asr_compute_type: str = "int8"
    asr_cpu_threads: int = 0  # per decoding worker; 0 = the cores shared among the workers
    # stereo channels decoded at the same time (one model, this many CTranslate2 workers);
    # the same text as one after another, ~35 % less wall time on 2 cores (docs/asr.md)
    asr_channel_workers: int = Field(default=2, ge=1, le=8)
    # Whisper leaves fillers (えーと, あのー) out unless its prompt shows them:
    # "" = no prompt (best CER), "verbatim" = keep fillers (see docs/evaluation.md), or a text
    asr_initial_prompt: str = ""
    # CPU kernel family pinned so that the same audio gives the same text on every x86
    # machine ("auto" = the fastest kernels of this CPU; see docs/asr.md)
    asr_cpu_isa: str = "AVX2"
    # Whisper's temperature fallback: [0.0] = beam search only, deterministic (the
    # default); adding higher temperatures re-decodes hard stretches by sampling, which
    # CTranslate2 seeds once per worker thread only: the same file could then give
    # another text on a second ingest (measured in docs/asr.md)
    asr_temperatures: list[float] = Field(default_factory=lambda: [0.0])
    asr_seed: int = 0  # seed of the sampling fallback (when temperatures > 0 are set)
    # domain vocabulary given to Whisper as hotwords: the terms of this YAML file (default
    # HOME/vocabulary.yaml when it exists) + company, competitor and key phrase lists
    asr_vocabulary: Path | None = None
    asr_hotwords: bool = True
    # stereo channels that get the vocabulary (measured: it helps the agent's scripted
    # words, and costs accuracy on customers' free speech and on mono recordings)
    asr_hotwords_roles: list[str] = Field(default_factory=lambda: ["agent"])
    # a low-confidence stretch is checked for another language; if it is not Japanese it
    # is transcribed in that language and marked, if unintelligible it is marked as such
    asr_language_check: bool = True
    # fillers Whisper heard but spelt as words (「Aと」 「絵」 「運」) written as fillers
    # (engine/asr/fillers.py; measured in docs/evaluation.md)
    asr_restore_fillers: bool = True
    # stereo: the customer's replies after the agent mentions the recording are decoded
    # again with the consent vocabulary (consent: asr_reply: in the analysis config;
    # engine/asr/replies.py)
    asr_reply_look: bool = True
    models_path: Path | None = None  # where packaged models are assembled (default HOME/models)

    # ingest
    max_upload_bytes: int = 500 * 1024 * 1024
    max_duration_s: float = 2 * 3600.0
    default_channels: list[str] = Field(default_factory=lambda: ["agent", "customer"])
    # per import source ("cli", "api", "watch"): stereo roles when the call says nothing
    channels_by_source: dict[str, list[str]] = Field(default_factory=dict)
    watch_dir: Path | None = None
    timezone: str = "Asia/Tokyo"  # for metadata times without an offset, and display
    # every probe and decode of a recording runs in a child process with these limits
    # (docs/security.md, "Sandboxed decoding"): CPU seconds and wall-clock seconds for
    # any file plus so many per minute of audio, memory beyond the decoded audio itself;
    # decode_sandbox = false decodes inside the server (debugging only)
    decode_sandbox: bool = True
    decode_cpu_s: float = Field(default=10.0, ge=1)
    decode_cpu_s_per_audio_min: float = Field(default=3.0, ge=0)
    decode_memory_mb: int = Field(default=512, ge=64)
    decode_timeout_s: float = Field(default=30.0, gt=0)
    decode_timeout_s_per_audio_min: float = Field(default=6.0, ge=0)

    # purposes of use: the catalogue (code → label), defaults per queue / source
    purposes: dict[str, str] = Field(default_factory=lambda: {
        "quality": "品質向上 / quality improvement", "dispute": "トラブル防止 / dispute evidence",
        "contract": "契約記録 / contract record", "training": "教育・研修 / training",
        "legal": "法令対応 / legal obligation"})
    default_purposes: list[str] = Field(default_factory=lambda: ["quality"])
    purposes_by_queue: dict[str, list[str]] = Field(default_factory=dict)
    purposes_by_source: dict[str, list[str]] = Field(default_factory=dict)
    # versions of the privacy notice / recording announcement:
    # [{version, effective_from (YYYY-MM-DD), text}], the one in force when a call started
    notices: list[dict[str, str]] = Field(default_factory=lambda: [{
        "version": "1", "effective_from": "2000-01-01",
        "text": "品質向上のため、この通話を録音させていただきます。"}])

    # retention (days per purpose of use; the longest applicable one wins)
    default_retention_days: int = 365
    retention_days: dict[str, int] = Field(default_factory=lambda: {
        "quality": 365, "training": 365, "dispute": 5 * 365, "contract": 10 * 365})
    retention_interval_h: float = 24.0

    # analysis
    analysis_config: list[Path] = Field(default_factory=list)  # extra YAML files or folders
    analysis_audio: bool = True  # decode the audio for voice agitation and VAD talk times
    # PCI mode: card numbers and security codes are masked in transcript, index and analysis
    # and bleeped in the stored audio before the transcript is stored
    pci_mode: bool = True
    # disclosure packages: when true, the one-step export (build + publish) is refused
    # and only a package approved by a second compliance officer is published
    disclosure_review_required: bool = False

    # pipeline
    workers: int = 1
    job_lease_s: float = 60.0
    job_poll_s: float = 0.5
    max_attempts: int = 3
    # Celery scale-out (docs/scale.md): a broker URL (amqp://… or redis://…) moves the
    # pipeline out of the web process into `rokuon worker` processes; "" = in-process
    broker_url: str = ""
    broker_queue_prefix: str = "rokuon"  # queues <prefix>.transcribe, <prefix>.analyze
    broker_sweep_s: float = Field(default=10.0, gt=0)  # beat: re-publish work, reclaim
    # live calls (docs/live.md): Twilio's auth token signs the Media Streams upgrade
    # (set ROKUON_TWILIO_AUTH_TOKEN in the environment, not in the file); the public URL
    # (scheme and host) Twilio connects to when rokuon is behind a proxy
    twilio_auth_token: str = ""
    public_url: str = ""
    live_idle_timeout_s: float = Field(default=60.0, gt=0)  # no frame for this long: ended
    live_transcription: bool = True  # partial/final text and real-time rules while live
    # Asterisk AudioSocket (docs/live.md): "HOST:PORT" to listen on ("" = off; started
    # with `rokuon serve`); only peers in these networks may connect (the protocol has no
    # authentication); the audio rate of each frame kind (0x10 slin 8 kHz; 0x11-0x18 in
    # current Asterisk; some older builds numbered 0x11 as slin16: set {"0x11" = 16000});
    # the entries given replace those kinds' defaults, 0 drops a kind
    audiosocket_listen: str = ""
    audiosocket_allow: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    audiosocket_kind_rates: dict[str, int] = Field(default_factory=dict)
    # kind 0x10 carries G.711 mu-law, not slin (a codec forced with Dial(AudioSocket/…/c(ulaw)))
    audiosocket_mulaw: bool = False
    # two connections whose UUIDs differ only in the last hex digit, "a" (agent) and "c"
    # (customer), within this many seconds are one stereo call; 0 = every connection is
    # its own (mixed) call
    audiosocket_pair_window_s: float = Field(default=1.0, ge=0, le=10)
    # longest AudioSocket call: then it is stored and the connection closed (a stuck line);
    # a call longer than max_duration_s goes on as a new call (part 2, 3 …)
    audiosocket_max_call_s: float = Field(default=3 * 3600.0, gt=0)
    # outbound webhooks (docs/integrations.md): true lets endpoints be private, loopback
    # or link-local addresses (a receiver on the same host or LAN); off = SSRF guard
    webhook_allow_private: bool = False
    # CRM activities (docs/integrations.md): the targets and field mappings file
    # (relative to HOME); credentials come from the environment variables it names
    crm_config: str = "crm.yaml"
    # after-call SMS (docs/integrations.md): "" (off) | "twilio" | "http"; Twilio's
    # account SID with twilio_auth_token (set ROKUON_TWILIO_AUTH_TOKEN in the
    # environment); the generic gateway gets {"to","from","body","reference"} as JSON
    sms_provider: str = Field(default="", pattern=r"^(|twilio|http)$")
    sms_from: str = ""
    # the Twilio account (SMS and recording imports): its SID, and the REST API's base
    # URL (recordings are downloaded from under it, whatever host a callback names)
    twilio_account_sid: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"
    sms_http_url: str = ""
    sms_http_token: str = ""  # set ROKUON_SMS_HTTP_TOKEN in the environment
    sms_template: str = ""  # placeholders as in crm.yaml; "" = the built-in Japanese text
    sms_country_code: str = "81"  # a domestic number 090… becomes +8190…
    sms_rule_flags: list[str] = Field(default_factory=list)  # after analysis: send when set

    # FAQ assist (docs/assist.md): answers shown live on the agent's screen (off: none
    # during calls; /faq and `rokuon faq suggest` still answer), how many, the fused
    # score an entry needs, and the weight of the embedding similarity in that score
    faq_live: bool = True
    faq_suggestions: int = Field(default=3, ge=1, le=10)
    faq_threshold: float = Field(default=0.375, ge=0.0, le=1.0)
    faq_dense_weight: float = Field(default=0.5, ge=0.0, le=1.0)

    # storage / keys
    # S3-compatible object storage (docs/storage.md): "s3://bucket/prefix" stores the
    # encrypted blobs there (credentials and endpoint: the standard AWS_* variables,
    # AWS_ENDPOINT_URL for MinIO/Ceph/Wasabi); "" = the local encrypted files
    blob_url: str = ""
    blob_store: str = "local"
    key_provider: str = "local"  # "local" (key file) | "openbao" / "vault" (transit engine)
    openbao_addr: str = "http://127.0.0.1:8200"
    openbao_token: str = ""  # set ROKUON_OPENBAO_TOKEN in the environment, not in the file
    openbao_key: str = "rokuon"
    openbao_mount: str = "transit"

    # web
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12

    @field_validator("home", mode="before")
    @classmethod
    def _expand_home(cls, v: Any) -> Any:
        return Path(v).expanduser() if isinstance(v, str | Path) else v

    @field_validator("blob_url")
    @classmethod
    def _blob_url(cls, v: str) -> str:
        if v and not v.startswith("s3://"):
            raise ValueError(f"{v!r} is not an object storage URL (use s3://bucket/prefix)")
        if v:
            from rokuon.store.blobs import BlobStoreError
            from rokuon.store.blobs_s3 import parse_s3_url

            try:
                parse_s3_url(v)
            except BlobStoreError as exc:
                raise ValueError(str(exc)) from None
        return v

    @field_validator("blob_store")
    @classmethod
    def _blob_store_from_url(cls, v: str, info: Any) -> str:
        return info.data.get("blob_url") or v  # blob_url set: the store it names

    @field_validator("asr_language")
    @classmethod
    def _known_language(cls, v: str) -> str:
        from rokuon.engine.asr.languages import WHISPER_LANGUAGES

        if v not in ("auto", "") and v not in WHISPER_LANGUAGES:
            raise ValueError(f"{v!r} is not a language Whisper knows (a code such as 'ja', "
                             "'en', or 'auto')")
        return v

    @field_validator("asr_cpu_isa")
    @classmethod
    def _known_isa(cls, v: str) -> str:
        from rokuon.engine.asr.numerics import check

        return check(v)

    @field_validator("default_channels", "audiosocket_allow", mode="before")
    @classmethod
    def _split_channels(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("audiosocket_allow")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        import ipaddress

        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not an address or network (CIDR such as "
                                 "'10.0.0.0/24')") from None
        return v

    @field_validator("audiosocket_listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        from rokuon.live.audiosocket_protocol import parse_host_port

        if v:
            parse_host_port(v)
        return v

    @field_validator("audiosocket_kind_rates")
    @classmethod
    def _kind_rates(cls, v: dict[str, int]) -> dict[str, int]:
        from rokuon.live.audiosocket_protocol import kind_rates

        kind_rates(v)
        return v

    # ---- derived paths -------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.home / CONFIG_FILE_NAME

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def key_file(self) -> Path:
        return self.home / "keys" / "kek.json"

    @property
    def models_dir(self) -> Path:
        return self.models_path or self.home / "models"

    @property
    def decode_limits(self) -> Limits:
        """The sandbox limits for decoding recordings (engine/audio/sandbox.py)."""
        from rokuon.engine.audio.sandbox import Limits

        return Limits(enabled=self.decode_sandbox, cpu_s=self.decode_cpu_s,
                      cpu_s_per_audio_min=self.decode_cpu_s_per_audio_min,
                      memory_mb=self.decode_memory_mb, wall_s=self.decode_timeout_s,
                      wall_s_per_audio_min=self.decode_timeout_s_per_audio_min,
                      max_audio_s=self.max_duration_s)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'rokuon.db'}"

    @property
    def initialised(self) -> bool:
        return self.config_file.exists()


def _env_set(field: str) -> bool:
    return f"ROKUON_{field.upper()}" in os.environ


def load_settings(**overrides: Any) -> Settings:
    """Build the Settings: overrides > env > config.toml > defaults."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    home_raw = overrides.get("home") or os.environ.get("ROKUON_HOME") or str(DEFAULT_HOME)
    home = Path(home_raw).expanduser()
    file_values: dict[str, Any] = {}
    cfg = home / CONFIG_FILE_NAME
    if cfg.exists():
        try:
            file_values = tomllib.loads(cfg.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{cfg}: not valid TOML ({exc})") from exc
    values = {k: v for k, v in file_values.items() if not _env_set(k)}
    values.update(overrides)
    values["home"] = home
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"configuration key '{key}': {first['msg']}") from exc


def default_config_toml() -> str:
    """The config file written by ``rokuon init`` (documented defaults)."""
    return """\
# rokuon configuration. Every key can also be set as ROKUON_<KEY> in the environment.
# default database: SQLite in this folder; for PostgreSQL:
# database_url = "postgresql+psycopg://rokuon@127.0.0.1:5432/rokuon"

# ASR: "packaged" = offline Whisper base from pip packages; or a local model directory;
# or a model hub name such as "large-v3" (needs network on first use).
asr_model = "packaged"
asr_language = "ja"          # "auto" = detect per call
asr_beam_size = 5
# asr_initial_prompt = "verbatim"  # keep fillers (えーと, あのー) at some cost in accuracy

# analysis_config = ["/etc/rokuon/analysis"]  # your word lists and scorecards (YAML)
# pci_mode = true   # mask card numbers / security codes, bleep them in the audio

max_upload_bytes = 524288000  # 500 MiB
max_duration_s = 7200         # 2 hours; longer recordings are refused
default_channels = ["agent", "customer"]  # stereo: left, right
# per source, e.g. a PBX that records the customer on the left:
# channels_by_source = { watch = ["customer", "agent"] }
# watch_dir = "/srv/recordings/incoming"

workers = 1
max_attempts = 3

# Asterisk AudioSocket (docs/live.md): the address to listen on and the PBX's networks
# audiosocket_listen = "10.0.0.5:9092"
# audiosocket_allow = ["10.0.0.0/24"]

# purposes of use: catalogue and defaults (a call's metadata may name its own)
# purposes = { quality = "品質向上", dispute = "トラブル防止", contract = "契約記録" }
default_purposes = ["quality"]
# purposes_by_queue = { sales = ["quality", "contract"] }
# privacy notice / announcement versions (the one in force when the call started):
# notices = [{ version = "2026-04", effective_from = "2026-04-01", text = "…" }]

# retention in days per purpose of use (the longest applicable one wins)
default_retention_days = 365
retention_days = { quality = 365, training = 365, dispute = 1825, contract = 3650 }
"""
