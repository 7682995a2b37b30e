"""faster-whisper transcription: per channel for stereo, diarized for mono.

The channel's voice activity (Silero VAD, as faster-whisper's ``vad_filter`` computes
it) is computed once here and reused three times: Whisper transcribes only the voiced
audio (exactly what ``vad_filter=True`` does inside faster-whisper), the hallucination
guard checks every segment against it, and the diarizer embeds only voiced windows.
So the pipeline runs the model once and the VAD once per channel, like bare
faster-whisper.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rokuon.engine.asr import numerics, provenance
from rokuon.engine.asr.hallucination import RawSegment, RawWord, Speech, guard
from rokuon.engine.asr.model import load_model_at
from rokuon.engine.asr.replies import Clip, ReplyLook
from rokuon.engine.asr.words import cut_segments, fit_span, fit_words
from rokuon.engine.audio.activity import tight_activity
from rokuon.engine.types import ENGINE_SAMPLE_RATE, DecodedAudio, Segment, Transcript, Word

SPLIT_GAP_S = 0.8  # a pause this long inside a Whisper segment starts a new segment
MONO_ROLES = ["agent", "customer"]  # mono: roles in order of first appearance
ECHO_HOTWORDS = 3  # this many hotwords in a row in the text are the prompt repeated
ECHO_PROMPT = 4  # … and this many phrases of the initial prompt
RETRY_COMPRESSION = 2.4  # Whisper's own thresholds for a failed window
RETRY_LOGPROB = -1.0
BATCH_GAP_S = 0.6  # pause laid between utterances decoded together (live calls)
LIVE_BEAM_SIZE = 1  # live text decodes greedily (the stored transcript uses the beam)
BATCH_MAX_S = 27.0  # utterances + pauses in one decode: within Whisper's 30 s window


# A Japanese prompt written the way people talk: Whisper continues in the prompt's style
# and keeps fillers (measured in docs/evaluation.md: fillers kept 0/11 → 10/11, at a cost
# in character error rate). Chosen with ``asr_initial_prompt = "verbatim"``.
VERBATIM_PROMPT_JA = "えーと、はい。あのー、えー、そうですね、まあ、お願いします。"


def prompt_for(setting: str | None) -> str | None:
    """The initial prompt for a setting: "" / None = none, "verbatim" = the filler-keeping
    Japanese prompt, anything else = that text."""
    if not setting:
        return None
    return VERBATIM_PROMPT_JA if setting == "verbatim" else setting


@dataclass
class AsrOptions:
    model: str = "packaged"
    language: str | None = "ja"  # None or "auto": detect
    beam_size: int = 5
    vad: bool = True
    word_timestamps: bool = True
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 0  # per worker; 0 = the cores shared among the workers
    # stereo channels decoded at once by this many CTranslate2 workers of one model (the
    # same text as one after another: each decode is independent and greedy/beam only)
    channel_workers: int = 2
    initial_prompt: str | None = None
    num_speakers: int | None = 2  # mono diarization; None: estimate (1–4)
    # (0.0,): beam search only, the same text every time. Higher temperatures add
    # Whisper's sampling fallback; CTranslate2 seeds its generators once per worker
    # thread, so sampled text can differ between two decodes in one process
    temperatures: tuple[float, ...] = (0.0,)
    seed: int = 0
    hotwords: str | None = None  # domain vocabulary (engine.asr.vocabulary)
    # the roles whose channel gets the hotwords (stereo; mono mixes both roles: none).
    # Measured: they help the agent's scripted words and cost CER on customers' speech
    hotwords_roles: tuple[str, ...] = ("agent",)
    cpu_isa: str = "AVX2"  # CPU kernel family pinned for reproducibility (numerics.py)
    language_check: bool = True  # doubtful stretches: another language? (language.py)
    restore_fillers: bool = True  # misspelt fillers written as fillers (fillers.py)
    # stereo: the customer's replies after an agent's anchor term decoded again with the
    # reply vocabulary (replies.py); None: off
    reply_look: ReplyLook | None = None


@dataclass
class ChannelResult:
    segments: list[RawSegment]
    language: str | None  # None when nothing was transcribed
    speech: Speech  # voice activity in seconds
    # (start, end, language) of stretches found to be in another language or "und"
    marked: list[tuple[float, float, str]] = field(default_factory=list)


def mark_languages(segments: list[Segment], marked: list[tuple[float, float, str]]
                   ) -> list[Segment]:
    """Engine segments inside a marked stretch carry its language."""
    for seg in segments:
        mid = (seg.start + seg.end) / 2
        for a, b, lang in marked:
            if a - 0.05 <= mid <= b + 0.05:
                seg.language = lang
                break
    return segments


def speech_chunks(samples: np.ndarray) -> list[dict[str, int]]:
    """Voice activity (Silero VAD shipped with faster-whisper, its default options, as
    ``vad_filter=True`` uses them) as {"start", "end"} sample indices."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    return get_speech_timestamps(samples, VadOptions(), sampling_rate=ENGINE_SAMPLE_RATE)


def in_seconds(chunks: list[dict[str, int]]) -> Speech:
    return [(c["start"] / ENGINE_SAMPLE_RATE, c["end"] / ENGINE_SAMPLE_RATE) for c in chunks]


def to_engine(segments: list[RawSegment], speaker: str, channel: int | None,
              activity: Speech | None = None) -> list[Segment]:
    """Engine segments from Whisper segments, each split where the speaker paused (Whisper
    often glues a party's turns together across the other party's turn). ``activity``:
    the channel's tight voice activity (``engine.audio.activity``); the words are first
    fitted to it, so no word or segment runs on into the silence after it or into the
    other party's turn (Whisper stretches the last word of a turn)."""
    out: list[Segment] = []
    for seg in segments:
        words = [Word(w.text.strip(), w.start, w.end, w.probability) for w in seg.words
                 if w.text.strip()]
        if not words:
            start, end = fit_span(seg.start, seg.end, activity)
            out.append(Segment(speaker=speaker, start=start, end=end,
                               text=seg.text.strip(), confidence=seg.confidence,
                               channel=channel))
            continue
        out += cut_segments(words, speaker, channel, activity, SPLIT_GAP_S)
    return out


class WhisperEngine:
    """Loads the model once (lazily, thread-safe) and transcribes calls."""

    name = "faster-whisper"

    def __init__(self, options: AsrOptions, models_dir: Path) -> None:
        self.options = options
        self.models_dir = Path(models_dir)
        numerics.pin(options.cpu_isa)  # before faster-whisper / CTranslate2 load
        self._model: Any = None
        self._model_path: str | None = None
        self._diarizer: Any = None
        self._lock = threading.Lock()
        self._decode_lock = threading.Lock()

    def model(self) -> Any:
        with self._lock:
            if self._model is None:
                o = self.options
                self._model, self._model_path = load_model_at(
                    o.model, self.models_dir, device=o.device, compute_type=o.compute_type,
                    cpu_threads=self.threads_per_worker(), num_workers=o.channel_workers)
            return self._model

    def threads_per_worker(self) -> int:
        """CPU threads of each decoding worker: as configured, else the cores shared
        among the workers (one worker: CTranslate2's own default)."""
        o = self.options
        if o.cpu_threads or o.channel_workers <= 1 or o.device != "cpu":
            return o.cpu_threads
        return max(1, (os.cpu_count() or 2) // o.channel_workers)

    def _serial(self) -> Any:
        """The decode lock when decodes must not overlap: a sampling fallback seeds
        CTranslate2's process-global generator, so one seeded decode at a time; beam
        search alone (the default) needs no seed and decodes run side by side."""
        o = self.options
        if o.channel_workers <= 1 or any(t > 0 for t in o.temperatures):
            return self._decode_lock
        return contextlib.nullcontext()

    def decoding(self) -> dict[str, Any]:
        """The decoding options as applied (recorded in the provenance)."""
        o = self.options
        return {"language": self._language(), "beam_size": o.beam_size,
                "temperatures": list(o.temperatures), "seed": o.seed,
                "initial_prompt": o.initial_prompt, "hotwords": o.hotwords,
                "hotwords_roles": list(o.hotwords_roles),
                "condition_on_previous_text": True, "word_timestamps": o.word_timestamps,
                "retry_failed": {"compression_ratio_above": RETRY_COMPRESSION,
                                 "avg_logprob_below": RETRY_LOGPROB,
                                 "as": "fresh window, no prompt, beam search"},
                "vad": "silero-default" if o.vad else None,
                "restore_fillers": o.restore_fillers,
                "reply_look": None if o.reply_look is None else {
                    "anchors": list(o.reply_look.anchors), "terms": list(o.reply_look.terms),
                    "hotwords": o.reply_look.hotwords},
                "compute_type": o.compute_type, "device": o.device,
                "cpu_threads": o.cpu_threads, "channel_workers": o.channel_workers}

    def provenance(self) -> dict[str, Any]:
        """What produced this engine's transcripts (model hash, options, numerics, code)."""
        self.model()
        return provenance.record(model_spec=self.options.model, model_path=self._model_path,
                                 decoding=self.decoding(), numerics=numerics.state())

    def diarizer(self) -> Any:
        with self._lock:
            if self._diarizer is None:
                from rokuon.engine.asr.diarize import Diarizer

                self._diarizer = Diarizer(num_speakers=self.options.num_speakers)
            return self._diarizer

    def _language(self) -> str | None:
        lang = self.options.language
        return None if lang in (None, "", "auto") else lang

    def echoes(self) -> list[tuple[tuple[str, ...], int, bool]]:
        """What Whisper was prompted with, as the guard looks for it repeated: three
        hotwords in a row, or four phrases of the prompt in its order."""
        from rokuon.engine.asr.echo import terms_of

        o = self.options
        return [(t, n, ordered) for t, n, ordered in (
            (terms_of(o.hotwords), ECHO_HOTWORDS, False),
            (terms_of(o.initial_prompt), ECHO_PROMPT, True)) if t]

    def _decode(self, audio: np.ndarray, language: str | None, hotwords: str | None = None,
                fresh: bool = False, max_new_tokens: int | None = None,
                beam_size: int | None = None) -> tuple[list[Any], Any]:
        """One seeded Whisper decode with this engine's options (segments as a list).
        ``fresh``: no prompt, no hotwords, no conditioning on earlier windows (the
        deterministic second try of :meth:`_retry_failed`). ``beam_size``: instead of the
        configured one (live text decodes greedily)."""
        o = self.options
        model = self.model()
        import ctranslate2

        with self._serial():
            ctranslate2.set_random_seed(o.seed)
            segments, info = model.transcribe(
                audio, language=language, beam_size=beam_size or o.beam_size,
                vad_filter=False,
                word_timestamps=o.word_timestamps,
                initial_prompt=None if fresh else o.initial_prompt,
                hotwords=hotwords if language in (None, self._language()) and not fresh
                else None,
                temperature=list(o.temperatures), condition_on_previous_text=not fresh,
                max_new_tokens=max_new_tokens)
            return list(segments), info

    def _retry_failed(self, samples: np.ndarray, raw: list[RawSegment],
                      chunks: list[dict[str, int]]) -> list[RawSegment]:
        """Whisper's own fallback re-decodes a failed window by random sampling, which
        cannot be made repeatable here (numerics.py, docs/asr.md). This is a
        deterministic one: a segment that failed by Whisper's measures (a loop:
        compression ratio > 2.4; or average log-probability < -1) is decoded again as a
        fresh window — from the end of the last good segment (the loop often swallowed
        the speech before it) to its own end, without prompt or earlier context — and
        replaced when the new text is not a loop (and, for a low-probability segment,
        more probable)."""
        o = self.options
        from faster_whisper.transcribe import restore_speech_timestamps

        out: list[RawSegment] = []
        for seg in raw:
            if seg.compression_ratio <= RETRY_COMPRESSION and seg.avg_logprob >= RETRY_LOGPROB:
                out.append(seg)
                continue
            a = out[-1].end if out else 0.0
            lo, hi = int(a * ENGINE_SAMPLE_RATE), int(seg.end * ENGINE_SAMPLE_RATE) + 1
            sub = [{"start": max(c["start"], lo), "end": min(c["end"], hi)}
                   for c in (chunks if o.vad else [{"start": 0, "end": len(samples)}])]
            sub = [c for c in sub if c["end"] - c["start"] > ENGINE_SAMPLE_RATE // 10]
            if not sub:
                out.append(seg)
                continue
            audio = np.concatenate([samples[c["start"]:c["end"]] for c in sub])
            again, _ = self._decode(audio, self._language(), fresh=True)
            new = self._raw(list(restore_speech_timestamps(again, sub, ENGINE_SAMPLE_RATE)))
            looped = seg.compression_ratio > RETRY_COMPRESSION  # loops are confident: any
            if new and all(n.compression_ratio <= RETRY_COMPRESSION for n in new) and (
                    looped or min(n.avg_logprob for n in new) > seg.avg_logprob):
                out += new
            else:
                out.append(seg)
        return out

    def transcribe_channel(self, samples: np.ndarray, hotwords: str | None = None
                           ) -> ChannelResult:
        """Whisper on one channel: VAD, then the model on the voiced audio only (with
        ``vad`` off, on all of it; the VAD still feeds the guard and the diarizer)."""
        from faster_whisper.transcribe import restore_speech_timestamps

        o = self.options
        chunks = speech_chunks(samples)
        if not chunks and o.vad:
            return ChannelResult([], None, [])
        voiced = np.concatenate([samples[c["start"]:c["end"]] for c in chunks]) \
            if o.vad else samples
        segments, info = self._decode(voiced, self._language(), hotwords)
        if o.vad:
            segments = restore_speech_timestamps(segments, chunks, ENGINE_SAMPLE_RATE)
        raw = self._retry_failed(samples, self._raw(segments), chunks)
        marked: list[tuple[float, float, str]] = []
        main = self._language()
        if o.language_check and main and raw:
            from rokuon.engine.asr import language

            def decode(clip: np.ndarray, lang: str) -> list[RawSegment]:
                return self._raw(self._decode(clip, lang,
                                              max_new_tokens=language.max_tokens(clip))[0])

            verdicts = language.check(self.model(), samples, raw, main, decode)
            found = language.recover(self.model(), samples, raw, in_seconds(chunks), main,
                                     decode)
            verdicts = language.without_guesses(
                verdicts, [(f.segment.start, f.segment.end) for f in found])
            verdicts = sorted(verdicts + found, key=lambda v: v.segment.start)
            raw = [v.segment for v in verdicts]
            marked = [(v.segment.start, v.segment.end, v.language) for v in verdicts
                      if v.language]
        return ChannelResult(raw, info.language, in_seconds(chunks), marked)

    def transcribe_utterances(self, clips: list[tuple[np.ndarray, str, int | None, float]]
                              ) -> list[list[Segment]]:
        """Several utterances (samples, role, channel, offset_s) in one decode: Whisper
        always encodes a 30 s window, so on a CPU one window per utterance costs as much as
        a window full of them. The clips are laid end to end with a pause between them;
        each recognised word goes back to the clip its middle falls in (words in the
        pauses are dropped: what Whisper says over silence is invented). All clips share
        one hotword setting (the caller groups them: ``hotwords_for``). One plain decode:
        no retries or language second look (the batch transcript at the end has them)."""
        words = self._decode_clips([c[0] for c in clips], self.hotwords_for(clips[0][1]),
                                   LIVE_BEAM_SIZE)
        out: list[list[Segment]] = []
        for (samples, role, channel, offset), ws in zip(clips, words, strict=True):
            if not ws:
                out.append([])
                continue
            raw = RawSegment(start=ws[0].start, end=ws[-1].end,
                             text="".join(w.text for w in ws), avg_logprob=0.0,
                             no_speech_prob=0.0, compression_ratio=1.0, words=ws)
            segs = self._fillers(to_engine([raw], role, channel, tight_activity(samples)))
            out.append([replace(seg, start=round(seg.start + offset, 3),
                                end=round(seg.end + offset, 3),
                                words=[replace(w, start=round(w.start + offset, 3),
                                               end=round(w.end + offset, 3))
                                       for w in seg.words]) for seg in segs])
        return out

    def _decode_clips(self, clips: list[np.ndarray], hotwords: str | None,
                      beam_size: int | None) -> list[list[RawWord]]:
        """Clips laid end to end with a pause between them, decoded once; the words of
        each clip (times relative to it). A word goes back to the clip its middle falls
        in; words in the pauses are dropped (what Whisper says over silence is
        invented)."""
        gap = np.zeros(int(BATCH_GAP_S * ENGINE_SAMPLE_RATE), dtype=np.float32)
        parts: list[np.ndarray] = []
        bounds: list[tuple[float, float]] = []
        pos = 0
        for samples in clips:
            bounds.append((pos / ENGINE_SAMPLE_RATE, (pos + len(samples)) / ENGINE_SAMPLE_RATE))
            parts += [samples.astype(np.float32), gap]
            pos += len(samples) + len(gap)
        audio = np.concatenate(parts)
        from rokuon.engine.asr import language

        # capped like speech can be (a loop over the pauses would otherwise run to 448
        # tokens: 10 s of decoding on a CPU for a 5 s utterance)
        segments, _ = self._decode(audio, self._language(), hotwords,
                                   max_new_tokens=language.max_tokens(audio),
                                   beam_size=beam_size)
        words: list[list[RawWord]] = [[] for _ in clips]
        for seg in self._raw(segments):
            for w in seg.words:
                mid = (w.start + w.end) / 2
                for i, (a, b) in enumerate(bounds):
                    if a <= mid <= b:
                        words[i].append(RawWord(w.text, max(0.0, w.start - a),
                                                min(b - a, w.end - a), w.probability))
                        break
        return words

    def _reply_decode(self, clips: list[Clip], hotwords: str) -> list[list[Word]]:
        """Reply clips (samples, offset) decoded together with ``hotwords``: the words
        of each, fitted to its voice activity, in recording time."""
        raw = self._decode_clips([c for c, _ in clips], hotwords, None)
        out: list[list[Word]] = []
        for (samples, offset), ws in zip(clips, raw, strict=True):
            words = fit_words([Word(w.text.strip(), w.start, w.end, w.probability)
                               for w in ws if w.text.strip()], tight_activity(samples))
            out.append([Word(w.text, round(w.start + offset, 3), round(w.end + offset, 3),
                             w.probability) for w in words])
        return out

    def _replies(self, segments: list[Segment], channels: dict[str, np.ndarray]
                 ) -> list[Segment]:
        look = self.options.reply_look
        if look is None or "agent" not in channels or "customer" not in channels:
            return segments
        from rokuon.engine.asr.replies import listen_again

        return listen_again(segments, channels, look, self._reply_decode)[0]

    def _fillers(self, segments: list[Segment]) -> list[Segment]:
        if not self.options.restore_fillers:
            return segments
        from rokuon.engine.asr import fillers

        return fillers.restore(segments)

    def hotwords_for(self, role: str) -> str | None:
        return self.options.hotwords if role in self.options.hotwords_roles else None

    def guard_channel(self, res: ChannelResult) -> tuple[list[RawSegment], list[dict]]:
        """The hallucination guard (with prompt echoes) on one channel's result."""
        return guard(res.segments, res.speech, self.echoes())

    def partial_text(self, samples: np.ndarray) -> str:
        """A quick look at an utterance still being spoken (live partials): one decode,
        no prompt, no retries; the final text comes from ``transcribe_utterances``."""
        from rokuon.engine.asr import language

        segments, _ = self._decode(samples, self._language(), fresh=True,
                                   max_new_tokens=language.max_tokens(samples),
                                   beam_size=LIVE_BEAM_SIZE)
        return "".join(s.text for s in segments).strip()

    @staticmethod
    def _raw(segments: list[Any]) -> list[RawSegment]:
        return [RawSegment(start=s.start, end=s.end, text=s.text, avg_logprob=s.avg_logprob,
                           no_speech_prob=s.no_speech_prob,
                           compression_ratio=s.compression_ratio,
                           words=[RawWord(w.word, w.start, w.end, w.probability)
                                  for w in (s.words or [])])
                for s in segments]

    def _channels_at_once(self, channels: list[np.ndarray], roles: list[str]
                          ) -> list[ChannelResult]:
        """Each channel through :meth:`transcribe_channel` (with its role's hotwords),
        up to ``channel_workers`` at the same time; results in channel order."""
        def one(ch: int) -> ChannelResult:
            return self.transcribe_channel(channels[ch], self.hotwords_for(roles[ch]))

        workers = min(self.options.channel_workers, len(channels))
        if workers <= 1:
            return [one(ch) for ch in range(len(channels))]
        self.model()  # loaded once, before the threads
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr-ch") as pool:
            return list(pool.map(one, range(len(channels))))

    def transcribe(self, audio: DecodedAudio, roles: list[str]) -> Transcript:
        """Stereo: each channel separately, channel i spoken by ``roles[i]``. Mono:
        transcribed, then diarized; ``roles`` (default agent, customer) are given to the
        speakers in order of first appearance (the agent opens an inbound call)."""
        segments: list[Segment] = []
        dropped: list[dict] = []
        languages: list[str] = []
        diarization = None
        speech: dict[str, list[tuple[float, float]]] | None = None
        if len(audio.channels) > 1:
            speech = {}
            names = [roles[ch] if ch < len(roles) else f"speaker_{ch}"
                     for ch in range(len(audio.channels))]
            results = self._channels_at_once(audio.channels, names)
            for ch, samples in enumerate(audio.channels):
                role, res = names[ch], results[ch]
                speech[role] = list(res.speech)
                kept, why = self.guard_channel(res)
                segments += mark_languages(
                    to_engine(kept, role, ch, tight_activity(samples, regions=res.speech)),
                    res.marked)
                dropped += [{**d, "speaker": role} for d in why]
                languages += [res.language] if res.language and kept else []
            segments.sort(key=lambda s: (s.start, s.end))
            by_role = {roles[ch] if ch < len(roles) else f"speaker_{ch}": samples
                       for ch, samples in enumerate(audio.channels)}
            segments = self._fillers(self._replies(segments, by_role))
        elif audio.channels:
            samples = audio.channels[0]
            res = self.transcribe_channel(samples)
            kept, dropped = self.guard_channel(res)
            languages += [res.language] if res.language and kept else []
            segments, diarization = self.diarizer().assign(
                samples, self._fillers(mark_languages(
                    to_engine(kept, "speaker_0", None,
                              tight_activity(samples, regions=res.speech)), res.marked)),
                res.speech, roles or MONO_ROLES)
        segments.sort(key=lambda s: (s.start, s.end))
        return Transcript(segments=segments,
                          language=languages[0] if languages else (self._language() or ""),
                          duration_s=audio.duration_s, engine=self.name,
                          model=self.options.model, diarization=diarization, dropped=dropped,
                          speech=speech, provenance=self.provenance())
