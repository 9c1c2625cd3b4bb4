"""Cloned voices against real speakers, graded with the GE2E speaker encoder, over the real server.

Run: ``.venv/bin/python benchmarks/cloning_neural.py`` (about 10 minutes on 2 cores; writes
``benchmarks/results/cloning_neural.md`` and ``.json``). For each corpus speaker:

* **Sample and held-out speech**: speakers with several clips (LJ Speech, the LibriVox reader) are
  cloned from one clip and graded on the others; FLEURS speakers have one clip, so its first 55 %
  is the sample and the rest is held out.
* **Clone**: ``POST /api/voices/`` with the sample and its language (default settings), then three
  test sentences spoken over ``speech/tts`` with the clone (the neural voice) and with
  ``model_name: "formant"`` (the formant voice + WORLD transform of the same profile: the old DSP
  clone).
* **Stock voices**: every Kokoro voice of the speaker's language speaks the same sentences (raw
  engine, in this process); the best of them also through the equaliser a clone would give it
  (``timbre_eq`` from its calibration rendering to the sample), to show what the equaliser alone
  brings.
* **Similarity**: cosine of the GE2E embedding of each rendering (the three sentences together) to
  the held-out speech's. Also the clone's round-trip WER (Whisper base, language forced).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gradium.audio.files import read_audio_file  # noqa: E402
from gradium.bench.server import Target, start  # noqa: E402
from gradium.engines.base import NeuralVoice, Synthesis  # noqa: E402
from gradium.engines.neural_tts import KokoroTTS  # noqa: E402
from gradium.engines.speaker_encoder import similarity, speaker_encoder  # noqa: E402
from gradium.engines.voice_eq import apply_voice_eq  # noqa: E402
from gradium.speech.custom_voices import ANALYSIS_WINDOW_S  # noqa: E402
from gradium.speech.voice_match import timbre_eq  # noqa: E402
from gradium.speech.voice_profile import analyse_voice  # noqa: E402
from gradium.speech.voice_space import ENGINE, calibration_sentences, render_params, stock_voices  # noqa: E402
from stt_corpus import wer  # noqa: E402

from tts_neural import SENTENCES, Transcriber, english_sentences, speak  # noqa: E402  # isort: skip

CORPUS = ROOT.parent / "shared" / "corpus"
RATE = 16000


@dataclass(frozen=True)
class Speaker:
    name: str
    language: str
    note: str
    sample: tuple[str, ...]
    held_out: tuple[str, ...]  # empty: the sample clip's last 45 %


SPEAKERS = (
    Speaker("LJ Speech", "en", "feminine", ("en_ljspeech_LJ001-0001.wav",), ("en_ljspeech_LJ001-0007.wav",)),
    Speaker("LibriVox reader", "en", "masculine", ("en_librivox_ss_0870.wav",),
            ("en_librivox_ss_0890.wav", "en_librivox_ss_0920.wav")),
    Speaker("FLEURS es 000", "es", "feminine", ("es_fleurs_000.wav",), ()),
    Speaker("FLEURS es 004", "es", "masculine", ("es_fleurs_004.wav",), ()),
    Speaker("FLEURS pt 002", "pt", "feminine", ("pt_fleurs_002.wav",), ()),
    Speaker("FLEURS pt 007", "pt", "masculine", ("pt_fleurs_007.wav",), ()),
    Speaker("FLEURS fr 003", "fr", "feminine", ("fr_fleurs_003.wav",), ()),
    Speaker("FLEURS fr 005", "fr", "masculine", ("fr_fleurs_005.wav",), ()),
)  # fmt: skip
SAMPLE_SHARE = 0.55


def audio_of(names: tuple[str, ...]) -> np.ndarray:
    return np.concatenate([read_audio_file(CORPUS / name, RATE)[0] for name in names])


def split(speaker: Speaker) -> tuple[np.ndarray, np.ndarray]:
    sample = audio_of(speaker.sample)
    if speaker.held_out:
        return sample, audio_of(speaker.held_out)
    cut = int(len(sample) * SAMPLE_SHARE)
    return sample[:cut], sample[cut:]


def wav_bytes(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def sentences(language: str) -> list[str]:
    return english_sentences()[:3] if language == "en" else SENTENCES[language]


async def clone(target: Target, speaker: Speaker, sample: np.ndarray) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("audio_file", wav_bytes(sample), filename="sample.wav", content_type="audio/wav")
    form.add_field("name", speaker.name)
    form.add_field("language", speaker.language)
    headers = {"x-api-key": target.api_key}
    async with (
        aiohttp.ClientSession() as session,
        session.post(target.base_url + "voices/", data=form, headers=headers) as response,
    ):
        body: dict[str, Any] = await response.json()
        if response.status != 201:
            raise RuntimeError(body)
        return body


async def server_speech(target: Target, uid: str, language: str, model: str) -> list[np.ndarray]:
    """One 16 kHz recording per test sentence."""
    parts = [await speak(target, uid, text, model=model) for text in sentences(language)]
    return [np.frombuffer(audio, dtype=np.int16) for audio, _ in parts]


def stock_speech(tts: KokoroTTS, name: str, accent: str, language: str) -> np.ndarray:
    voice = render_params(NeuralVoice(ENGINE, name, accent), language)
    return np.concatenate([tts.synthesize(text, voice).pcm for text in sentences(language)])


def equalised_stock(
    tts: KokoroTTS, name: str, accent: str, language: str, envelope: tuple[float, ...] | None
) -> np.ndarray:
    """The stock voice's test sentences through the equaliser a clone of it would get: what the
    equaliser alone brings, without the mix."""
    voice = NeuralVoice(ENGINE, name, accent)
    calibration = tts.synthesize(calibration_sentences(language), render_params(voice, language))
    eq = None if envelope is None else timbre_eq(envelope, calibration)
    speech = Synthesis(stock_speech(tts, name, accent, language), 24000)
    return apply_voice_eq(speech, eq).pcm


def embed(pcm: np.ndarray, rate: int) -> np.ndarray:
    return speaker_encoder().embed(pcm.astype(np.float32) / 32768, rate)


async def grade(target: Target, tts: KokoroTTS, transcribe: Transcriber, speaker: Speaker) -> dict[str, Any]:
    sample, held_out = split(speaker)
    reference = speaker_encoder().embed(held_out, RATE)
    started = time.perf_counter()
    voice = await clone(target, speaker, sample)
    clone_s = time.perf_counter() - started
    neural = voice["profile"]["neural_voice"]
    clone_parts = await server_speech(target, voice["uid"], speaker.language, "default")
    dsp_parts = await server_speech(target, voice["uid"], speaker.language, "formant")
    stock: dict[str, float] = {}
    for candidate in stock_voices():
        if candidate.language == speaker.language:
            pcm = stock_speech(tts, candidate.name, candidate.accent, speaker.language)
            stock[candidate.name] = round(similarity(embed(pcm, 24000), reference), 3)
    best = max(stock, key=lambda name: stock[name])
    accent = next(v.accent for v in stock_voices() if v.name == best)
    # The sample's envelope as the server analysed it (its analysis window of the sample).
    envelope = analyse_voice(sample[: int(ANALYSIS_WINDOW_S * RATE)], RATE).envelope_db
    best_eq = equalised_stock(tts, best, accent, speaker.language, envelope)
    refs = sentences(speaker.language)
    hyps = [transcribe(pcm, speaker.language) for pcm in clone_parts]
    words = sum(len(r.split()) for r in refs)
    errors = sum(wer(r, h, speaker.language) * len(r.split()) for r, h in zip(refs, hyps, strict=True))
    row = {
        "speaker": speaker.name,
        "language": speaker.language,
        "note": speaker.note,
        "sample_s": round(len(sample) / RATE, 1),
        "held_out_s": round(len(held_out) / RATE, 1),
        "clone_voice": neural["voice"] if neural else None,
        "clone_eq": bool(neural and neural.get("eq_db")),
        "clone": round(similarity(embed(np.concatenate(clone_parts), 16000), reference), 3),
        "dsp_clone": round(similarity(embed(np.concatenate(dsp_parts), 16000), reference), 3),
        "stock": stock,
        "best_stock": max(stock.values()) if stock else None,
        "best_stock_with_eq": round(similarity(embed(best_eq, 24000), reference), 3),
        "clone_wer": round(errors / words, 3),
        "clone_request_s": round(clone_s, 1),
    }
    print(json.dumps(row), flush=True)
    return row


async def measure(languages: set[str]) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as work:
        target = start(Path(work))
        try:
            tts, transcribe = KokoroTTS(threads=2), Transcriber()
            return [
                await grade(target, tts, transcribe, speaker)
                for speaker in SPEAKERS
                if speaker.language in languages
            ]
        finally:
            target.stop()


def write_report(results: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "cloning_neural.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [
        "# Cloning: speaker similarity to held-out speech (GE2E cosine)",
        "",
        "| speaker | lang | clone (Kokoro voice + equaliser) | best stock voice of its language |"
        " that voice + equaliser | DSP clone | clone WER | clone request |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["speakers"]:
        best = max(row["stock"], key=row["stock"].get) if row["stock"] else "-"
        lines.append(
            f"| {row['speaker']} ({row['note']}) | {row['language']} | **{row['clone']:.3f}** |"
            f" {row['best_stock']:.3f} ({best}) | {row['best_stock_with_eq']:.3f} |"
            f" {row['dsp_clone']:.3f} | {row['clone_wer']:.1%} |"
            f" {row['clone_request_s']:.1f} s |"
        )
    lines += ["", "Mixes:", ""]
    lines += [
        f"- {row['speaker']}: `{json.dumps(row['clone_voice'])}`{' + equaliser' if row['clone_eq'] else ''}"
        for row in results["speakers"]
    ]
    (out / "cloning_neural.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--languages", default="en,es,pt,fr",
        help="measure these speakers again; the others' rows are kept from --out's JSON",
    )  # fmt: skip
    args = parser.parse_args()
    languages = set(args.languages.split(","))
    rows = asyncio.run(measure(languages))
    previous = args.out / "cloning_neural.json"
    if previous.exists():
        kept = [r for r in json.loads(previous.read_text())["speakers"] if r["language"] not in languages]
        rows = sorted(kept + rows, key=lambda r: [s.name for s in SPEAKERS].index(r["speaker"]))
    write_report({"speakers": rows}, args.out)
    print((args.out / "cloning_neural.md").read_text())


if __name__ == "__main__":
    main()
