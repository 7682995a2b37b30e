"""Wiring: builds the long-lived services of one installation from Settings.

One ``Runtime`` per process. Services are created lazily so that a CLI command
that only lists calls never loads the ASR model.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from typing import TYPE_CHECKING

from rokuon.config import ConfigError, Settings
from rokuon.store.db import Database

if TYPE_CHECKING:
    from rokuon.access.audit_keys import AuditKeys
    from rokuon.engine.asr.replies import ReplyLook
    from rokuon.engine.asr.transcribe import WhisperEngine
    from rokuon.store.blobs import BlobStore
    from rokuon.store.keys import KeyProvider


class NotInitialisedError(ConfigError):
    pass


class Runtime:
    def __init__(self, settings: Settings, *, require_init: bool = True) -> None:
        if require_init and not settings.initialised:
            raise NotInitialisedError(
                f"rokuon is not initialised in {settings.home}: run 'rokuon init' first "
                "(or set ROKUON_HOME)"
            )
        self.settings = settings
        self._lock = threading.Lock()
        from rokuon.engine.asr import numerics

        numerics.pin(settings.asr_cpu_isa)  # before any engine library loads (numerics.py)

    @cached_property
    def audit_keys(self) -> AuditKeys:
        from rokuon.access.audit_keys import AuditKeys

        return AuditKeys(self.settings.key_file.parent)

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.effective_database_url,
                        info={"audit_keys": self.audit_keys},
                        sqlite_key=self.database_key())

    def database_key(self) -> bytes | None:
        """The SQLCipher key of the embedded database (None: PostgreSQL, or encryption
        off). Made on first use; an unencrypted file is encrypted in place first."""
        from rokuon.store import dbcrypt

        s = self.settings
        path = dbcrypt.sqlite_file(s.effective_database_url)
        if path is None or not s.database_encryption:
            return None
        key_dir = s.key_file.parent
        fresh = not path.exists() or dbcrypt.is_plaintext(path)
        key = dbcrypt.database_key(key_dir, self.keys, create=fresh)
        if key is None:
            raise dbcrypt.DatabaseKeyError(
                f"database {path} is encrypted but {dbcrypt.key_path(key_dir)} is missing "
                "(restore the keys folder from its backup)")
        if dbcrypt.is_plaintext(path):
            from rokuon.store.keys import folder_lock

            with folder_lock(key_dir):
                if dbcrypt.is_plaintext(path):
                    dbcrypt.encrypt_in_place(path, key)
        dbcrypt.open_check(path, key)
        if path.exists() and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # SQLite makes its WAL and SHM with the file's mode
        return key

    @cached_property
    def keys(self) -> KeyProvider:
        from rokuon.store.keys import make_key_provider

        s = self.settings
        if s.key_provider in ("openbao", "vault"):
            import rokuon.store.keys_openbao  # noqa: F401 - registers the provider

            return make_key_provider(s.key_provider, addr=s.openbao_addr,
                                     token=s.openbao_token, key=s.openbao_key,
                                     mount=s.openbao_mount)
        return make_key_provider(s.key_provider, path=s.key_file)

    @cached_property
    def blobs(self) -> BlobStore:
        from rokuon.store.blobs import make_blob_store

        return make_blob_store(self.settings.blob_store, root=self.settings.blob_dir,
                               keys=self.keys)

    @property
    def asr(self) -> WhisperEngine:
        with self._lock:
            if "_asr" not in self.__dict__:
                from rokuon.engine.asr.transcribe import AsrOptions, WhisperEngine, prompt_for

                s = self.settings
                opts = AsrOptions(
                    model=s.asr_model,
                    language=None if s.asr_language == "auto" else s.asr_language,
                    beam_size=s.asr_beam_size,
                    device=s.asr_device,
                    compute_type=s.asr_compute_type,
                    cpu_threads=s.asr_cpu_threads,
                    channel_workers=s.asr_channel_workers,
                    initial_prompt=prompt_for(s.asr_initial_prompt),
                    seed=s.asr_seed, temperatures=tuple(s.asr_temperatures),
                    cpu_isa=s.asr_cpu_isa,
                    hotwords=self.asr_hotwords() if s.asr_hotwords else None,
                    hotwords_roles=tuple(s.asr_hotwords_roles),
                    language_check=s.asr_language_check,
                    restore_fillers=s.asr_restore_fillers,
                    reply_look=self.asr_reply_look() if s.asr_reply_look else None,
                )
                self.__dict__["_asr"] = WhisperEngine(opts, s.models_dir)
            return self.__dict__["_asr"]

    def asr_hotwords(self) -> str | None:
        """The domain vocabulary for the recogniser: the installation's vocabulary file
        first, then the names and phrases the detectors look for (company, competitors,
        recording announcement and refusal, churn)."""
        from rokuon.engine.asr import vocabulary

        s = self.settings
        path = s.asr_vocabulary or (s.home / "vocabulary.yaml")
        terms = vocabulary.load_file(path) if s.asr_vocabulary or path.is_file() else []
        return vocabulary.hotwords(terms + vocabulary_from_lists(self.analysis_config))

    def asr_reply_look(self) -> ReplyLook | None:
        """What the recogniser listens for again in the customer's replies (consent:
        asr_reply: anchors, terms in the analysis config); None when not configured."""
        from rokuon.engine.asr import vocabulary
        from rokuon.engine.asr.replies import ReplyLook

        reply = self.analysis_config.get("consent", {}).get("asr_reply") or {}
        anchors = tuple(vocabulary.clean(str(a)) for a in reply.get("anchors") or [] if a)
        terms = tuple(vocabulary.clean(str(t)) for t in reply.get("terms") or [] if t)
        hot = vocabulary.hotwords(list(reply.get("hotwords") or terms))
        if not anchors or not terms or not hot:
            return None
        return ReplyLook(anchors=anchors, terms=terms, hotwords=hot)

    @property
    def analysis_config(self) -> dict:
        """Word lists, patterns and scorecards: defaults + the installation's YAML files
        (cached per list of paths)."""
        from rokuon.engine.analysis.config import load_config

        return load_config(tuple(str(p) for p in self.settings.analysis_config))

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


def vocabulary_from_lists(cfg: dict) -> list[str]:
    """Terms from the configured detector lists that matter most when misheard."""
    from rokuon.engine.asr.vocabulary import clean

    def words(value: object) -> list[str]:
        items = value if isinstance(value, list) else []
        return [clean(w if isinstance(w, str) else str(w.get("word") or w.get("phrase") or ""))
                for w in items if isinstance(w, str | dict)]

    pii = cfg.get("pii", {})
    voc = cfg.get("voc", {})
    consent = cfg.get("consent", {})
    churn = cfg.get("churn", {})
    terms = words(pii.get("company_names")) + words(voc.get("competitors"))
    terms += [w for w in words(consent.get("announcement")) if len(w) <= 4]
    terms += [w for w in words(churn.get("cues")) if len(w) <= 4]
    return [t for t in terms if t and not t.isascii()]
