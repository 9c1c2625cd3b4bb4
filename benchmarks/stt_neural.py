"""The neural STT engine against the issue's targets, over the real server at real-time pace.

Run: ``.venv/bin/python benchmarks/stt_neural.py`` (about 8 minutes on 2 cores; writes
``benchmarks/results/stt_neural.md`` and ``.json``). It starts ``gradium serve`` with default
settings and measures, each stream sending 80 ms chunks of 24 kHz PCM at real-time pace followed by
2 s of silence (the client runs on the same machine and takes CPU from it):

* **WER** per clip and language over Gradium ``speech/asr`` (digits spelled out before scoring, in
  the clip's language); each stream sets ``json_config.language`` to the clip's language.
* **Word latency** (English, reference word times from a forced alignment of the transcript): from
  the end of each word to its ``text`` message, and ("final") from the end of the word's utterance
  to its message; utterances are the reference words split at pauses of 0.5 s or more (the
  server's end-of-utterance silence), so a word committed before its utterance ends counts
  negative.
* **Interim**: over Cartesia's streaming route, from the end of the first word to the first
  transcript of any kind.
* **End of turn**: audio time from the last word's end to the first ``step`` whose 2 s horizon
  reaches 0.9 (and when that step's message arrived), and the largest 2 s value in each pause the
  server saw while the clip was spoken, split by whether the transcript ends a sentence there.
* **Capacity**: 4, 6 and 8 concurrent English streams, ``--capacity-runs`` times each (3; the
  levels interleaved; 0 skips them); a level is kept up in a run when no stream's lag
  (audio sent minus audio processed, from ``step`` messages) exceeds 1 s. Server CPU (main process
  and STT workers, from /proc) per second of audio, beside the raw engine's: the same pipeline
  in this process on the same clips, no server.
* **Memory**: RSS of the server idle and of it and its STT workers after the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from gradium.bench.inputs import RefWord, SttClip, default_corpus, load_clips, load_pcm, words_of  # noqa: E402
from gradium.bench.server import Target, start  # noqa: E402
from gradium.bench.stt_match import word_latencies  # noqa: E402
from gradium.server.settings import Settings  # noqa: E402
from gradium.speech.stt_engines import Recognizers  # noqa: E402
from gradium.speech.stt_pipeline import SttPipeline, Word  # noqa: E402
from stt_corpus import normalise  # noqa: E402

CHUNK = 3840  # 80 ms of 24 kHz s16le
TAIL_S = 2.0
LEVELS = (4, 6, 8)
WARM_UP_S = 20.0  # after the first stream, for the other workers to load their models


@dataclass
class StreamRun:
    name: str
    language: str
    duration_s: float
    text: str = ""
    arrivals: list[tuple[str, float]] = field(default_factory=list)  # (text, audio-clock time)
    # (total_duration_s, vad[2], arrival on the audio clock: the client sends in real time)
    steps: list[tuple[float, float, float]] = field(default_factory=list)
    max_lag_s: float = 0.0
    first_transcript_s: float | None = None


def pcm24(name: str, corpus: Path) -> bytes:
    pcm = load_pcm(corpus / name, 24000)
    return np.concatenate([pcm, np.zeros(int(TAIL_S * 24000), dtype="<i2")]).tobytes()


async def gradium_stream(target: Target, name: str, language: str, data: bytes) -> StreamRun:
    run = StreamRun(name, language, len(data) / 48000 - TAIL_S)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(target.ws_url + "speech/asr", headers={"x-api-key": target.api_key}) as ws,
    ):
        setup = {"type": "setup", "input_format": "pcm", "json_config": {"language": language}}
        await ws.send_json(setup)
        json.loads(await ws.receive_str())
        t0 = time.perf_counter()

        async def reader() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                now, data_ = time.perf_counter() - t0, json.loads(msg.data)
                if data_["type"] == "text":
                    run.arrivals.append((data_["text"], now))
                elif data_["type"] == "step":
                    total = float(data_["total_duration_s"])
                    run.steps.append((total, float(data_["vad"][2]["inactivity_prob"]), now))
                    run.max_lag_s = max(run.max_lag_s, min(now, len(data) / 48000) - total)
                elif data_["type"] in ("end_of_stream", "error"):
                    break

        reading = asyncio.create_task(reader())
        await send_paced(
            ws.send_json, data, t0, lambda c: {"type": "audio", "audio": base64.b64encode(c).decode()}
        )
        await ws.send_json({"type": "end_of_stream"})
        await reading
    run.text = " ".join(t for t, _ in run.arrivals)
    return run


async def send_paced(send: Any, data: bytes, t0: float, frame: Any) -> None:
    for offset in range(0, len(data), CHUNK):
        chunk = data[offset : offset + CHUNK]
        wait = t0 + (offset + len(chunk)) / 48000 - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        await send(frame(chunk))


async def cartesia_first_transcript(target: Target, data: bytes) -> float | None:
    root = target.base_url.removesuffix("api/").replace("http", "ws", 1)
    url = root + "stt/websocket?model=ink-whisper&language=en&encoding=pcm_s16le&sample_rate=24000"
    first: list[float] = []
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url, headers={"X-API-Key": target.api_key, "Cartesia-Version": "2025-04-16"}
        ) as ws,
    ):
        t0 = time.perf_counter()

        async def reader() -> None:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data_ = json.loads(msg.data)
                if data_["type"] == "transcript" and not first:
                    first.append(time.perf_counter() - t0)
                if data_["type"] in ("done", "error"):
                    break

        reading = asyncio.create_task(reader())
        await send_paced(ws.send_bytes, data, t0, lambda c: c)
        await ws.send_str("done")
        await reading
    return first[0] if first else None


def wer_of(reference: str, hypothesis: str, language: str) -> tuple[int, int]:
    import jiwer

    ref, hyp = normalise(reference, language), normalise(hypothesis, language) or "<empty>"
    out = jiwer.process_words(ref, hyp)
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live children (the STT workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def rss_mb(pid: int, children: bool) -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        ppid = int(status.split("PPid:")[1].split()[0])
        if int(entry.name) == pid or (children and ppid == pid):
            total += int(status.split("VmRSS:")[1].split()[0]) / 1024
    return round(total, 1)


def utterance_ends(reference: list[RefWord]) -> list[RefWord]:
    """Each reference word with the end of its utterance as its end (pauses >= 0.5 s split)."""
    ends: list[float] = []
    for i, word in enumerate(reference):
        last = i + 1 == len(reference) or reference[i + 1].start_s - word.end_s >= 0.5
        ends.append(word.end_s if last else float("nan"))
    for i in range(len(ends) - 2, -1, -1):
        if ends[i] != ends[i]:  # NaN: not the last word of its utterance
            ends[i] = ends[i + 1]
    return [RefWord(w.text, end, w.start_s) for w, end in zip(reference, ends, strict=True)]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))


def raw_cpu(clips: list[SttClip]) -> float:
    """CPU seconds per audio second of the pipeline alone (Whisper + Silero), one thread, no server."""
    recognizers = Recognizers()
    recognizers.warm()
    busy = audio = 0.0
    for clip in clips:
        pipeline = SttPipeline(
            "pcm",
            language="en",
            decoder=recognizers.decoder("whisper", "en", 0.0),
            vad=recognizers.vad("whisper"),
        )
        data = clip.pcm24k + bytes(int(TAIL_S * 48000))
        started = time.process_time()
        events = [e for i in range(0, len(data), CHUNK) for e in pipeline.feed(data[i : i + CHUNK])]
        events += pipeline.finish()
        busy += time.process_time() - started
        audio += len(data) / 48000
        assert any(isinstance(e, Word) for e in events)
    return busy / audio


async def capacity(
    target: Target, clips: list[SttClip], corpus: Path, runs: int = 1, levels: tuple[int, ...] = LEVELS
) -> list[dict[str, Any]]:
    """Each level ``runs`` times (the levels interleaved, so that a slow spell of the machine does
    not hit one level only); a level is kept up in a run when no stream fell more than 1 s behind."""
    lags: dict[int, list[float]] = {streams: [] for streams in levels}
    cpu: dict[int, list[float]] = {streams: [] for streams in levels}
    for run in range(runs):
        for streams in levels:
            chosen = [clips[i % len(clips)] for i in range(streams)]
            cpu_before = cpu_seconds(target.pid or 0)
            results = await asyncio.gather(
                *(gradium_stream(target, c.name, "en", pcm24(c.name, corpus)) for c in chosen)
            )
            audio = sum(c.duration_s + TAIL_S for c in chosen)
            cpu[streams].append((cpu_seconds(target.pid or 0) - cpu_before) / audio)
            lags[streams].append(round(max(r.max_lag_s for r in results), 3))
            print(f"run {run + 1}: {streams} streams, largest lag {lags[streams][-1]} s", flush=True)
    return [
        {
            "streams": streams,
            "runs": runs,
            "kept_up_runs": sum(lag <= 1.0 for lag in lags[streams]),
            "max_lag_s": lags[streams],
            "server_cpu_per_audio_s": round(statistics.mean(cpu[streams]), 3),
        }
        for streams in levels
    ]


async def measure(
    corpus: Path, capacity_runs: int, capacity_only: bool, levels: tuple[int, ...] = LEVELS
) -> dict[str, Any]:
    manifest = json.loads((corpus / "manifest.json").read_text())
    english = load_clips(corpus, None, 0.0)
    long_english = [c for c in english if c.duration_s >= 6.0]
    with tempfile.TemporaryDirectory() as tmp:
        target = start(Path(tmp))
        try:
            pid = target.pid or 0
            idle_rss = rss_mb(pid, children=True)
            results: dict[str, Any] = {
                "rss_idle_mb": idle_rss,
                "load_before": os.getloadavg()[0],
                "stt_workers_x_threads": Settings(Path(tmp)).stt_layout(),  # what the server chose
            }
            if capacity_only:
                # Start the STT workers and load their models first, as the clip runs do.
                short = min(english, key=lambda c: c.duration_s)
                await gradium_stream(target, short.name, "en", pcm24(short.name, corpus))
                await asyncio.sleep(WARM_UP_S)
                results["capacity"] = await capacity(target, long_english, corpus, capacity_runs, levels)
                return results
            runs = []
            for entry in manifest:  # one stream at a time: latency without queueing
                runs.append(
                    await gradium_stream(
                        target, entry["file"], entry["language"], pcm24(entry["file"], corpus)
                    )
                )
                print(runs[-1].name, runs[-1].text[:80], flush=True)
            results["rss_after_stt_mb"] = rss_mb(pid, children=True)
            results["rss_server_only_mb"] = rss_mb(pid, children=False)
            interim = []
            for clip in long_english:
                first = await cartesia_first_transcript(target, pcm24(clip.name, corpus))
                first_word_end = clip.reference[0].end_s
                interim.append(None if first is None else round(first - first_word_end, 3))
            # --capacity-runs 0 skips them (their load would disturb another measurement).
            if capacity_runs > 0:
                results["capacity"] = await capacity(target, long_english, corpus, capacity_runs, levels)
            else:
                results["capacity"] = []
        finally:
            target.stop()
    results["raw_cpu_per_audio_s"] = round(raw_cpu(long_english), 3)
    results.update(summarise(runs, english, interim, manifest))
    return results


def summarise(
    runs: list[StreamRun], english: list[SttClip], interim: list[float | None], manifest: list[dict[str, Any]]
) -> dict[str, Any]:
    transcripts = {str(e["file"]): str(e["transcript"]) for e in manifest}
    references = {c.name: c for c in english}
    per_clip, per_language = [], {}
    word_lat, final_lat, eot, eot_wall, during_max = [], [], [], [], []
    inside_all: Pauses = []  # pauses inside a sentence
    between_all: Pauses = []  # ... and between two sentences
    for run in runs:
        errors, words = wer_of(transcripts[run.name], run.text, run.language)
        acc = per_language.setdefault(run.language, [0, 0])
        acc[0] += errors
        acc[1] += words
        row: dict[str, Any] = {
            "clip": run.name,
            "language": run.language,
            "seconds": round(run.duration_s, 2),
            "max_lag_s": round(run.max_lag_s, 3),  # one stream alone: the floor under any load
        }
        row["wer"] = round(errors / max(words, 1), 3)
        row["text"] = run.text
        clip = references.get(run.name)
        if clip is not None:
            word_lat += word_latencies(run.arrivals, clip.reference)
            last_end = clip.reference[-1].end_s
            final_lat += word_latencies(run.arrivals, utterance_ends(clip.reference))
            reached = [(t, at) for t, p, at in run.steps if t > last_end and p >= 0.9]
            row["end_of_turn_s"] = round(reached[0][0] - last_end, 2) if reached else None
            # What a framework sees: when that step's message arrived, after the final pass.
            row["end_of_turn_wall_s"] = round(reached[0][1] - last_end, 2) if reached else None
            if reached:
                eot.append(reached[0][0] - last_end)
                eot_wall.append(reached[0][1] - last_end)
            # From the first step at which the VAD heard speech (before it, the stream's leading
            # silence has no turn to end) to the last word.
            onset = next((t for t, p, _ in run.steps if t > clip.reference[0].start_s and p == 0.0), last_end)
            speaking = [p for t, p, _ in run.steps if onset <= t < last_end - 0.1]
            row["vad2_max_while_speaking"] = round(max(speaking, default=0.0), 3)
            during_max.append(row["vad2_max_while_speaking"])
            inside, between = pause_maxima(run, clip)
            row["vad2_max_pause_inside_sentence"] = inside
            inside_all.extend(inside)
            between_all.extend(between)
        per_clip.append(row)
    others = [lang for lang in per_language if lang != "en"]
    other_errors = sum(per_language[lang][0] for lang in others)
    other_words = sum(per_language[lang][1] for lang in others)
    lat = [x for x in interim if x is not None]
    return {
        "per_clip": per_clip,
        "single_stream_lag_s": {
            "p50": round(percentile([r.max_lag_s for r in runs], 50), 3),
            "max": round(max((r.max_lag_s for r in runs), default=0.0), 3),
        },
        "wer_by_language": {lang: round(e / max(w, 1), 3) for lang, (e, w) in per_language.items()},
        "wer_fr_de_es_pt": round(other_errors / max(other_words, 1), 3),
        "word_latency_s": {
            "p50": round(percentile(word_lat, 50), 3),
            "p95": round(percentile(word_lat, 95), 3),
        },
        "final_latency_s": {
            "p50": round(percentile(final_lat, 50), 3),
            "p95": round(percentile(final_lat, 95), 3),
        },
        "interim_latency_s": {
            "p50": round(percentile(lat, 50), 3),
            "max": round(max(lat, default=float("nan")), 3),
            "missing": interim.count(None),
        },
        "end_of_turn_s": {
            "p50": round(statistics.median(eot), 2) if eot else None,
            "max": round(max(eot), 2) if eot else None,
            "missing": len(english) - len(eot),
        },
        "end_of_turn_wall_s": {
            "p50": round(statistics.median(eot_wall), 2) if eot_wall else None,
            "max": round(max(eot_wall), 2) if eot_wall else None,
        },
        "vad2_max_while_speaking": round(max(during_max, default=0.0), 3),
        "pauses_inside_sentences": pause_summary(inside_all),
        "pauses_between_sentences": pause_summary(between_all),
    }


Pauses = list[tuple[float, float]]  # (pause s, largest vad[2] in it)


# Sentence ends that the corpus transcripts leave unpunctuated (read from the clips' audio and
# their sources' text): the word after which a new sentence starts.
UNPUNCTUATED_SENTENCE_ENDS: dict[str, tuple[str, ...]] = {
    "en_librispeech_2412-153948-0000.flac": ("country",),
    "en_ami_ES2011a_headset0_40-46s.wav": ("claflin",),
}


def pause_maxima(run: StreamRun, clip: SttClip) -> tuple[Pauses, Pauses]:
    """Each pause the server saw while the clip was spoken (consecutive steps with vad[2] > 0
    between the first speech and the last word): (its length, its largest vad[2]), split by whether
    the reference word before it ends a sentence (the transcript's punctuation)."""
    ends: list[bool] = []  # per reference word: a sentence ends after it
    extra = UNPUNCTUATED_SENTENCE_ENDS.get(clip.name, ())
    for token in clip.transcript.split():
        words = words_of(token)
        ended = token.rstrip("\"')»”").endswith((".", "?", "!")) or (bool(words) and words[-1] in extra)
        ends += [False] * (len(words) - 1) + [ended] * min(len(words), 1)
    if len(ends) != len(clip.reference):
        return [], []
    last_end = clip.reference[-1].end_s
    onset = next((t for t, p, _ in run.steps if t > clip.reference[0].start_s and p == 0.0), last_end)
    inside: Pauses = []
    between: Pauses = []
    pause: list[tuple[float, float]] = []  # the current pause's steps
    for t, p, _ in [*run.steps, (float("inf"), 0.0, 0.0)]:
        if onset < t < last_end and p > 0.0:
            pause.append((t, p))
            continue
        if pause:
            before = [i for i, word in enumerate(clip.reference) if word.end_s < pause[0][0]]
            ended = bool(before) and ends[before[-1]]
            length = round(len(pause) * 0.08, 2)
            (between if ended else inside).append((length, max(p_ for _, p_ in pause)))
            pause = []
    return inside, between


def pause_summary(pauses: Pauses) -> dict[str, Any]:
    short = [p for length, p in pauses if length < 0.3]  # steps of 80 ms: at most 0.24 s
    longest = max(pauses, default=(0.0, 0.0), key=lambda item: item[1])
    return {
        "count": len(pauses),
        "under_0.3s": len(short),
        "vad2_max_under_0.3s": max(short, default=0.0),  # pauses of at most 3 steps (0.24 s)
        "vad2_max": longest[1],
        "pause_of_max_s": longest[0],
        "over_0.5": sum(p > 0.5 for _, p in pauses),
        "over_0.9": sum(p >= 0.9 for _, p in pauses),
    }


def write_report(results: dict[str, Any], out: Path) -> None:
    lines = [
        "# Neural STT (Whisper tiny.en / base + Silero VAD) over the real server",
        "",
        "Generated by `benchmarks/stt_neural.py` (see its docstring for the method). Streams at",
        "real-time pace, 80 ms chunks, 2 s of silence after each clip, default server settings.",
        "",
        f"- WER by language: {results['wer_by_language']}; fr+de+es+pt together {results['wer_fr_de_es_pt']}",
        f"- word latency (end of word -> its text): {results['word_latency_s']}",
        f"- final latency (end of the word's utterance -> its text): {results['final_latency_s']}",
        f"- first interim transcript after the first word's end (Cartesia): {results['interim_latency_s']}",
        f"- end of turn (vad[2] >= 0.9 after the last word, audio time): {results['end_of_turn_s']}; "
        f"when that step's message arrived: {results['end_of_turn_wall_s']}",
        f"- largest vad[2] between the first speech and the last word (real pauses included): "
        f"{results['vad2_max_while_speaking']}",
        f"- pauses inside a sentence (by the transcript's punctuation): {results['pauses_inside_sentences']}",
        f"- pauses between sentences: {results['pauses_between_sentences']}",
        f"- largest lag of each clip's stream alone (p50, max over clips): {results['single_stream_lag_s']}",
        capacity_line(results),
        f"- raw pipeline (no server): {results['raw_cpu_per_audio_s']} CPU s per audio s",
        f"- RSS: idle {results['rss_idle_mb']} MB; after STT, server + workers "
        f"{results['rss_after_stt_mb']} MB (server alone {results['rss_server_only_mb']} MB)",
        "",
        "| clip | lang | seconds | WER | end of turn s (arrival) | vad[2] max speaking | recognised |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["per_clip"]:
        lines.append(
            f"| {row['clip']} | {row['language']} | {row['seconds']} | {100 * row['wer']:.1f} % | "
            f"{eot_cell(row)} | {row.get('vad2_max_while_speaking', '')} | {row['text']} |"
        )
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str))


def capacity_line(results: dict[str, Any]) -> str:
    if not results["capacity"]:
        return "- capacity: not measured in this run (--capacity-runs 0)"
    return (
        f"- capacity ({results['capacity'][0]['runs']} runs per level, load average before "
        f"{results['load_before']:.2f}, STT workers x threads {results['stt_workers_x_threads']}): "
        f"{results['capacity']}"
    )


def eot_cell(row: dict[str, Any]) -> str:
    if "end_of_turn_s" not in row:
        return ""
    return f"{row['end_of_turn_s']} ({row['end_of_turn_wall_s']})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "stt_neural.md")
    parser.add_argument(
        "--capacity-runs", type=int, default=3, help="runs of each capacity level (0: no capacity runs)"
    )
    parser.add_argument(
        "--capacity-only", action="store_true", help="only the capacity runs (JSON printed, no report)"
    )
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="capacity levels (streams)")
    args = parser.parse_args()
    levels = tuple(int(n) for n in args.levels.split(","))
    results = asyncio.run(measure(args.corpus, args.capacity_runs, args.capacity_only, levels))
    if args.capacity_only:
        print(json.dumps(results, indent=1))
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_report(results, args.out)
    print(args.out.read_text())


if __name__ == "__main__":
    main()
