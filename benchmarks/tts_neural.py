"""The neural TTS voices against the issue's targets, over the real server.

Run: ``.venv/bin/python benchmarks/tts_neural.py`` (about 10 minutes on 2 cores; needs the ``bench``
extra for DNSMOS; writes ``benchmarks/results/tts_neural.md`` and ``.json``). It starts
``gradium serve`` with default settings and measures:

* **Intelligibility**: each flagship voice speaks sentences over ``speech/tts`` (``pcm_16000``);
  Whisper base (beam 5, full window, the language forced) transcribes them in this process;
  WER with digits spelled out (10 English sentences, 3 per other language), and a sound-alike WER
  over the words' espeak-ng pronunciations, so that homophones ("chaise"/"chaises") are not errors.
* **Naturalness proxy**: DNSMOS P.808 (``speechmos``, ONNX) averaged over the same sentences.
* **Identity**: median F0 (WORLD's DIO) of every catalog voice speaking one sentence, through the
  engine adapters in this process; feminine voices should be >= 165 Hz, masculine <= 140 Hz.
* **Latency**: one stream, short text (~40 characters), first audio after the text is sent, p50
  and p95 over 15 requests, for a Kokoro voice (Emma) and for the fast model (Kent, Piper), beside
  the raw engine's time to synthesize the same first segment in this process.
* **Real-time listeners**: N clients that each ask for the short text, play it from its first
  audio, and ask again once it has played (after a random 0-0.5 s pause), for 20 s; first-audio
  p50/p95 and underruns (audio that arrived after its playback time).
* **Memory**: RSS of the server idle and after both engines served.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gradium.bench.server import Target, start  # noqa: E402
from gradium.catalog import load_catalog, voice_params  # noqa: E402
from gradium.engines.neural_tts import KokoroTTS, PiperTTS  # noqa: E402
from gradium.server.runtime import FIRST_WORDS, KOKORO_CALL_THREADS  # noqa: E402
from gradium.speech.tts_models import FAST, family_of_model_name, for_family  # noqa: E402
from gradium.text.segmenter import Segment, TextSegmenter  # noqa: E402
from stt_corpus import SOUND_ALIKE_LANGUAGES, sound_alike_wer, sounds, wer  # noqa: E402

from stt_neural import percentile, rss_mb  # noqa: E402  # isort: skip

SHORT_TEXT = "The meeting has moved to Thursday afternoon."
# The 14 flagship voices of the seed's voice library (six English, two per other language).
FLAGSHIPS = {voice.name: voice.uid for voice in load_catalog().values() if voice.flagship}
SENTENCES = {
    "fr": [
        "Le train pour Lyon partira avec vingt minutes de retard ce matin.",
        "Nous avons besoin de trois chaises supplémentaires pour la réunion.",
        "La bibliothèque municipale ferme ses portes à dix-huit heures.",
    ],
    "es": [
        "El tren hacia Madrid saldrá con veinte minutos de retraso esta mañana.",
        "Necesitamos tres sillas más para la reunión de la tarde.",
        "La biblioteca municipal cierra sus puertas a las seis de la tarde.",
    ],
    "pt": [
        "O trem para São Paulo vai sair com vinte minutos de atraso hoje.",
        "Precisamos de mais três cadeiras para a reunião da tarde.",
        "A biblioteca municipal fecha as portas às seis horas da tarde.",
    ],
    "de": [
        "Der Zug nach Berlin fährt heute Morgen mit zwanzig Minuten Verspätung ab.",
        "Wir brauchen noch drei Stühle für die Besprechung am Nachmittag.",
        "Die Stadtbibliothek schließt ihre Türen um achtzehn Uhr.",
    ],
}
IDENTITY_TEXT = {
    "en": "Hello there, how are you doing today?",
    "fr": "Bonjour, comment allez-vous aujourd'hui ?",
    "es": "Hola, ¿cómo estás hoy?",
    "pt": "Olá, como você está hoje?",
}


def english_sentences() -> list[str]:
    lines = (ROOT / "tests" / "data" / "roundtrip_sentences.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")][:10]


async def speak(
    target: Target, voice_id: str, text: str, fmt: str = "pcm_16000", model: str = "default"
) -> tuple[bytes, float]:
    """(audio, seconds from sending the text to the first audio message)."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(target.ws_url + "speech/tts", headers={"x-api-key": target.api_key}) as ws,
    ):
        await ws.send_json({"type": "setup", "voice_id": voice_id, "output_format": fmt, "model_name": model})
        await ws.receive_json()
        sent = time.perf_counter()
        await ws.send_json({"type": "text", "text": text})
        await ws.send_json({"type": "end_of_stream"})
        chunks, first = [], 0.0
        async for msg in ws:
            data = json.loads(msg.data)
            if data["type"] == "audio":
                first = first or time.perf_counter() - sent
                chunks.append(base64.b64decode(data["audio"]))
            elif data["type"] == "error":
                raise RuntimeError(data["message"])
            elif data["type"] == "end_of_stream":
                break
    return b"".join(chunks), first


def median_f0(pcm: np.ndarray, rate: int) -> float:
    import pyworld

    f0, _ = pyworld.dio(pcm.astype(np.float64) / 32768, rate)
    voiced = f0[f0 > 0]
    return float(np.median(voiced)) if voiced.size else 0.0


def dnsmos_p808(pcm16k: np.ndarray) -> float:
    from speechmos import dnsmos

    audio = np.clip(pcm16k.astype(np.float32) / 32768, -1, 1)
    return float(dnsmos.run(audio, 16000)["p808_mos"])


class Transcriber:
    def __init__(self) -> None:
        from gradium.engines.whisper import AUTO, WhisperModels

        self.model = WhisperModels().model(AUTO)

    def __call__(self, pcm16k: np.ndarray, language: str) -> str:
        from gradium.engines.whisper import FULL_WINDOW_S, encoder_window

        audio = np.pad(pcm16k.astype(np.float32) / 32768, (0, 8000))
        with encoder_window(FULL_WINDOW_S):
            segments, _ = self.model.transcribe(audio, language=language, beam_size=5)
            return " ".join(s.text for s in segments)


async def quality(target: Target) -> list[dict[str, Any]]:
    transcribe = Transcriber()
    catalog = load_catalog()
    rows = []
    for name, uid in FLAGSHIPS.items():
        language = catalog[uid].language
        sentences = english_sentences() if language == "en" else SENTENCES[language]
        refs, hyps, moses, f0s = [], [], [], []
        for sentence in sentences:
            audio, _ = await speak(target, uid, sentence)
            pcm = np.frombuffer(audio, dtype=np.int16)
            refs.append(sentence)
            hyps.append(transcribe(pcm, language))
            moses.append(dnsmos_p808(pcm))
            f0s.append(median_f0(pcm, 16000))
        errors = sum(wer(r, h, language) * len(r.split()) for r, h in zip(refs, hyps, strict=True))

        rows.append(
            {
                "voice": name,
                "language": language,
                "engine": neural_name(uid),
                "wer": round(errors / sum(len(r.split()) for r in refs), 3),
                "sound_alike_wer": sound_alike_total(refs, hyps, language),
                "transcripts": hyps,
                "dnsmos_p808": round(float(np.mean(moses)), 2),
                "median_f0_hz": round(float(np.median(f0s))),
            }
        )
        print(rows[-1], flush=True)
    return rows


def sound_alike_total(refs: list[str], hyps: list[str], language: str) -> float | None:
    """Errors over the pronounced words of all sentences (None where espeak-ng has no voice)."""
    if language not in SOUND_ALIKE_LANGUAGES:
        return None
    words = [len(sounds(r, language).split()) for r in refs]
    errors = sum(sound_alike_wer(r, h, language) * n for r, h, n in zip(refs, hyps, words, strict=True))
    return round(errors / sum(words), 3)


def neural_name(uid: str) -> str:
    neural = voice_params(load_catalog()[uid], flite=False).neural
    return "espeak-ng" if neural is None else f"{neural.engine}:{neural.voice}"


def identity() -> dict[str, Any]:
    """Median F0 of every catalog voice with a neural voice, against the feminine/masculine bounds."""
    kokoro = KokoroTTS()
    misses, counts = [], {"Feminine": 0, "Masculine": 0}
    for voice in load_catalog().values():
        params = voice_params(voice, flite=False)
        if params.neural is None or voice.gender not in counts:
            continue
        synthesis = kokoro.synthesize(IDENTITY_TEXT[voice.language], params)
        f0 = median_f0(synthesis.pcm, synthesis.sample_rate)
        counts[voice.gender] += 1
        ok = f0 >= 165 if voice.gender == "Feminine" else f0 <= 140
        if not ok:
            misses.append({"voice": voice.name, "gender": voice.gender, "f0_hz": round(f0)})
    return {"voices": counts, "outside_bounds": misses}


async def latency(target: Target, uid: str, model: str) -> dict[str, Any]:
    await speak(target, uid, SHORT_TEXT, "pcm", model)  # loads the engine
    firsts = [(await speak(target, uid, SHORT_TEXT, "pcm", model))[1] for _ in range(15)]
    params = for_family(voice_params(load_catalog()[uid], flite=False), family_of_model_name(model))
    # The same engine settings as the server's (gradium.server.runtime).
    engine = PiperTTS() if family_of_model_name(model) == FAST else KokoroTTS(threads=KOKORO_CALL_THREADS)
    segmenter = TextSegmenter(first_max_words=FIRST_WORDS)
    first = next(i for i in [*segmenter.push(SHORT_TEXT), *segmenter.end()] if isinstance(i, Segment))
    engine.synthesize(first.text, params)  # load
    raw = []
    for _ in range(5):
        started = time.perf_counter()
        engine.synthesize(first.text, params)
        raw.append(time.perf_counter() - started)
    return {
        "ttfa_ms": {"p50": round(1000 * percentile(firsts, 50)), "p95": round(1000 * percentile(firsts, 95))},
        "raw_first_segment_ms": round(1000 * percentile(raw, 50)),
    }


async def listeners(
    target: Target, uid: str, model: str, count: int, seconds: float = 20.0
) -> dict[str, Any]:
    firsts: list[float] = []
    underruns = [0]

    async def listener(index: int) -> None:
        rng = random.Random(index)
        await asyncio.sleep(rng.uniform(0, 1))
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(target.ws_url + "speech/tts", headers={"x-api-key": target.api_key}) as ws,
            ):
                await ws.send_json(
                    {"type": "setup", "voice_id": uid, "output_format": "pcm", "model_name": model}
                )
                await ws.receive_json()
                sent = time.perf_counter()
                await ws.send_json({"type": "text", "text": SHORT_TEXT})
                await ws.send_json({"type": "end_of_stream"})
                start, played = 0.0, 0.0
                async for msg in ws:
                    data = json.loads(msg.data)
                    if data["type"] != "audio":
                        if data["type"] in ("end_of_stream", "error"):
                            break
                        continue
                    now = time.perf_counter()
                    if not start:
                        start = now
                        firsts.append(now - sent)
                    elif now > start + played + 0.02:
                        underruns[0] += 1
                    played += len(base64.b64decode(data["audio"])) / 2 / 48000
            await asyncio.sleep(max(0.0, start + played - time.perf_counter()) + rng.uniform(0, 0.5))

    await asyncio.gather(*(listener(i) for i in range(count)))
    return {
        "listeners": count,
        "ttfa_ms": {"p50": round(1000 * percentile(firsts, 50)), "p95": round(1000 * percentile(firsts, 95))},
        "requests": len(firsts),
        "underruns": underruns[0],
    }


PARTS = ("latency", "listeners", "quality", "identity")


async def measure(parts: tuple[str, ...], results: dict[str, Any]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        target = start(Path(tmp))
        try:
            pid = target.pid or 0
            results["rss_idle_mb"] = rss_mb(pid, children=False)
            if "latency" in parts:
                results["latency"] = {
                    "kokoro (Emma)": await latency(target, FLAGSHIPS["Emma"], "default"),
                    "piper (Kent, model_name fast)": await latency(target, FLAGSHIPS["Kent"], "fast"),
                }
                print(results["latency"], flush=True)
                results["rss_after_engines_mb"] = rss_mb(pid, children=False)
            if "listeners" in parts:
                results["listeners"] = {
                    "kokoro": [
                        await listeners(target, FLAGSHIPS["Emma"], "default", n) for n in (1, 2, 3, 4)
                    ],
                    "piper": [await listeners(target, FLAGSHIPS["Kent"], "fast", n) for n in (4, 8, 16)],
                }
                print(results["listeners"], flush=True)
            if "quality" in parts:
                results["quality"] = await quality(target)
        finally:
            target.stop()
    if "identity" in parts:
        results["identity"] = identity()
    return results


def write_report(results: dict[str, Any], out: Path) -> None:
    lines = [
        "# Neural TTS voices over the real server",
        "",
        "Generated by `benchmarks/tts_neural.py` (method in its docstring), 2-core machine, client and",
        "server on the same machine.",
        "",
        f"- first audio, one stream, short text: {results['latency']}",
        f"- real-time listeners: {results['listeners']}",
        f"- identity (median F0 of every neural catalog voice): {results['identity']}",
        f"- RSS: idle {results['rss_idle_mb']} MB, after Kokoro and Piper served "
        f"{results['rss_after_engines_mb']} MB",
        "",
        "| voice | language | engine: voice | round-trip WER | sound-alike WER | DNSMOS P.808 |"
        " median F0 (Hz) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["quality"]:
        alike = row.get("sound_alike_wer")
        alike_cell = "-" if alike is None else f"{100 * alike:.1f} %"
        lines.append(
            f"| {row['voice']} | {row['language']} | {row['engine']} | {100 * row['wer']:.1f} % | "
            f"{alike_cell} | {row['dnsmos_p808']} | {row['median_f0_hz']} |"
        )
    lines += ["", "Transcripts (Whisper base):", ""]
    lines += [f"- {row['voice']}: {' / '.join(row.get('transcripts', []))}" for row in results["quality"]]
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(results, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "tts_neural.md")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help="comma-separated parts to measure; the others are kept from the existing JSON",
    )
    args = parser.parse_args()
    parts = tuple(part for part in args.parts.split(",") if part)
    previous = args.out.with_suffix(".json")
    kept = json.loads(previous.read_text()) if set(parts) != set(PARTS) and previous.exists() else {}
    results = asyncio.run(measure(parts, kept))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_report(results, args.out)
    print(args.out.read_text())


if __name__ == "__main__":
    main()
