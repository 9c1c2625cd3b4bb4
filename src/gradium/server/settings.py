"""Server configuration: every limit and price in one place, documented in the README."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gradium.engines.whisper import WhisperOptions, model_dirs_from_env
from gradium.speech.stt_engines import SttEngineOptions
from gradium.speech.tts import MAX_BREAK_SECONDS
from gradium.workers.stt_pool import pool_layout


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


@dataclass(frozen=True)
class Cluster:
    """Running several replicas on one shared store (README: "Running several replicas").

    Each field defaults to the single-machine behaviour: SQLite and samples in the data directory,
    a token secret generated into the data directory, no stream limit, a 30 s drain.
    """

    # postgresql://user:password@host/db shared by every replica; None: DATA_DIR/gradium.db.
    database_url: str | None = field(default_factory=lambda: os.environ.get("GRADIUM_DATABASE_URL") or None)
    # Voice samples on storage every replica mounts; None: DATA_DIR/voices.
    voices_dir: Path | None = field(default_factory=lambda: _env_path("GRADIUM_VOICES_DIR"))
    # Secret that signs access tokens, the same on every replica (so a token minted on one works
    # on all); None: a random secret kept in DATA_DIR/cartesia_token_secret.
    token_secret: str | None = field(default_factory=lambda: os.environ.get("GRADIUM_TOKEN_SECRET") or None)
    # Streams (WebSocket requests and HTTP syntheses/transcriptions) this replica serves at once;
    # past it, new work is refused at once (HTTP 503 + Retry-After, WebSocket close 1013). 0: no limit.
    max_streams: int = field(default_factory=lambda: _env_int("GRADIUM_MAX_STREAMS", 0))
    # A new stream is refused when an engine's queue would make its first audio later than this.
    first_audio_deadline_s: float = field(
        default_factory=lambda: _env_float("GRADIUM_FIRST_AUDIO_DEADLINE_S", 0.0)
    )
    # Seconds a refused client is told to wait (Retry-After).
    retry_after_s: int = field(default_factory=lambda: _env_int("GRADIUM_RETRY_AFTER_S", 1))
    # On SIGTERM: how long streams in flight may run to their end before the process exits.
    drain_timeout_s: float = field(default_factory=lambda: _env_float("GRADIUM_DRAIN_TIMEOUT_S", 30.0))
    # One JSON object per log line (with request ids) instead of plain text.
    json_logs: bool = field(default_factory=lambda: os.environ.get("GRADIUM_LOG_FORMAT", "") == "json")


@dataclass(frozen=True)
class Limits:
    """Limits that protect the server; exceeding one gets a clear error, never a crash."""

    max_text_chars_per_request: int = 100_000  # TTS characters in one request (all text messages)
    max_ws_message_bytes: int = 8 * 1024 * 1024  # one WebSocket frame from a client
    max_audio_seconds_per_request: float = 4 * 3600.0  # STT input duration in one request
    idle_timeout_s: float = 60.0  # a socket with no client message while a request waits for input
    max_requests_per_socket: int = 64  # concurrent multiplexed requests on one socket
    max_http_tts_chars: int = 20_000  # text of one POST post/speech/tts
    max_break_seconds_per_request: float = MAX_BREAK_SECONDS  # silence of all <break> tags together
    credential_recheck_s: float = 30.0  # an open socket's key/token is checked again this often
    max_send_queue_bytes: int = 4 * 1024 * 1024  # messages waiting for a slow reader, per socket
    slow_reader_timeout_s: float = 20.0  # a full send queue this long closes the socket (1008)


@dataclass(frozen=True)
class Pricing:
    """Credits: TTS 1 per spoken character (tags excluded); STT per second of input audio."""

    tts_credits_per_char: int = 1
    stt_credits_per_second: float = 1.0


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    initial_credits: int = 1_000_000
    # STT worker processes and the passes each runs at once (threads); None: chosen from the CPU
    # count and the engine by gradium.workers.stt_pool.pool_layout (2 cores, Whisper: 1 x 2).
    stt_workers: int | None = field(default_factory=lambda: _env_int("GRADIUM_STT_WORKERS", 0) or None)
    stt_threads: int | None = field(default_factory=lambda: _env_int("GRADIUM_STT_THREADS", 0) or None)
    # STT engine of streams that do not choose one by model_name: "whisper" (default) or
    # "pocketsphinx" (English only, small footprint); Whisper's device ("cpu", "cuda", "auto") and
    # user model directories (GRADIUM_WHISPER_MODEL_DIR, GRADIUM_WHISPER_MODEL_DIR_FR, ...).
    stt_engine: str = field(default_factory=lambda: os.environ.get("GRADIUM_STT_ENGINE", "whisper"))
    stt_device: str = field(default_factory=lambda: os.environ.get("GRADIUM_STT_DEVICE", "cpu"))
    whisper_model_dirs: dict[str, Path] = field(default_factory=model_dirs_from_env)
    # pocketsphinx search: "fast" (default) or "accurate" (the model's own settings: 2.3-2.8x the CPU
    # per stream for 2.4 points less corpus WER; gradium.engines.pocketsphinx.SEARCH_MODES).
    stt_search: str = field(default_factory=lambda: os.environ.get("GRADIUM_STT_SEARCH", "fast"))
    # Start the STT worker processes with the server (each with its models loaded) instead of with
    # the first STT stream: no first-request wait, the models' memory held while idle.
    # Share of an STT worker's core that interim (partial) passes may use: more streams per worker
    # then make interim words less frequent rather than every stream fall behind.
    stt_partial_cpu_share: float = field(
        default_factory=lambda: _env_float("GRADIUM_STT_PARTIAL_CPU_SHARE", 0.5)
    )
    stt_prestart: bool = field(default_factory=lambda: os.environ.get("GRADIUM_STT_PRESTART", "") == "1")
    # espeak-ng copies synthesizing at once (one per core by default; see gradium.engines.espeak).
    tts_threads: int = field(
        default_factory=lambda: _env_int("GRADIUM_TTS_THREADS", max(1, os.cpu_count() or 1))
    )
    # Neural voices (Kokoro, Piper); off, every voice speaks with its espeak-ng/flite voice.
    tts_neural: bool = field(default_factory=lambda: os.environ.get("GRADIUM_TTS_NEURAL", "1") != "0")
    use_flite: bool = field(default_factory=lambda: os.environ.get("GRADIUM_DISABLE_FLITE", "") != "1")
    limits: Limits = field(
        default_factory=lambda: Limits(
            idle_timeout_s=_env_float("GRADIUM_IDLE_TIMEOUT_S", 60.0),
            credential_recheck_s=_env_float("GRADIUM_CREDENTIAL_RECHECK_S", 30.0),
            slow_reader_timeout_s=_env_float("GRADIUM_SLOW_READER_TIMEOUT_S", 20.0),
        )
    )
    pricing: Pricing = field(
        default_factory=lambda: Pricing(
            stt_credits_per_second=_env_float("GRADIUM_STT_CREDITS_PER_SECOND", 1.0)
        )
    )
    cluster: Cluster = field(default_factory=Cluster)

    @property
    def voice_files_dir(self) -> Path:
        """The operator's own Piper and Kokoro voice files (gradium.engines.voice_files)."""
        override = os.environ.get("GRADIUM_VOICE_FILES_DIR")
        return Path(override) if override else self.data_dir / "voice-files"

    def stt_layout(self) -> tuple[int, int]:
        """(STT worker processes, threads of each)."""
        return pool_layout(os.cpu_count() or 1, self.stt_engine, self.stt_workers, self.stt_threads)

    def stt_options(self) -> SttEngineOptions:
        """The STT engine configuration every worker starts with (raises ValueError if invalid)."""
        whisper = WhisperOptions(model_dirs=dict(self.whisper_model_dirs), device=self.stt_device)
        return SttEngineOptions(
            engine=self.stt_engine,
            search=self.stt_search,
            whisper=whisper,
            partial_cpu_share=self.stt_partial_cpu_share,
            threads=self.stt_layout()[1],
        )
