"""End of turn and WER of the Whisper + Silero pipeline in-process, on the audio clock: cheap to rerun.

Run: ``.venv/bin/python benchmarks/stt_eot_offline.py [--trace CLIP]`` (about 3 minutes on 2 cores).
Every corpus clip goes through :class:`~gradium.speech.stt_pipeline.SttPipeline` as the server's
worker runs it (24 kHz PCM in 80 ms chunks, then 2 s of silence, partial passes on), with no server
and no pacing. The metrics are those of ``benchmarks/stt_neural.py`` (its ``summarise``); the
"arrival" of a step is simulated: the stream's chunks are sent in real time and each feed's events
come out when its processing (measured wall time here) is done, after the feeds before it. With
``--trace`` the per-step trace of one clip is printed (VAD frames, vad[2], pipeline events).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "tests"))

from stt_neural import CHUNK, StreamRun, pcm24, summarise  # noqa: E402

from gradium.bench.inputs import default_corpus, load_clips  # noqa: E402
from gradium.engines.whisper import WhisperDecoder  # noqa: E402
from gradium.speech.stt_engines import Recognizers  # noqa: E402
from gradium.speech.stt_pipeline import Step, SttPipeline, UtteranceEnd, Word  # noqa: E402


def run_clip(
    recognizers: Recognizers,
    corpus: Path,
    name: str,
    language: str,
    trace: bool = False,
    early_pass_s: float | None = None,
) -> tuple[StreamRun, float]:
    data = pcm24(name, corpus)
    run = StreamRun(name, language, len(data) / 48000 - 2.0)
    vad = recognizers.vad("whisper")
    pipeline = SttPipeline(
        "pcm", language=language, decoder=recognizers.decoder("whisper", language, 0.0), vad=vad
    )
    if early_pass_s is not None:
        pipeline.early_pass_s = early_pass_s
    done = 0.0  # when the previous feed's events came out (simulated arrival clock)
    busy = 0.0
    frames_before = 0
    for offset in range(0, len(data), CHUNK):
        chunk = data[offset : offset + CHUNK]
        sent = (offset + len(chunk)) / 48000
        cpu = time.process_time()
        events = pipeline.feed(chunk)
        # CPU time, not wall time: another process's load on this machine does not move it (the
        # engines run on one thread each).
        elapsed = time.process_time() - cpu
        busy += elapsed
        done = max(done, sent) + elapsed
        for event in events:
            if isinstance(event, Step):
                p2 = event.inactivity[2][1]
                run.steps.append((event.total_duration_s, p2, done))
                if trace:
                    turns = pipeline._turns  # private: a debugging trace
                    frames = list(turns._history)[-(turns._frames - frames_before) :]
                    frames_before = turns._frames
                    print(
                        f"{event.total_duration_s:6.2f} {''.join('#' if f else '.' for f in frames):>4}"
                        f" p2={p2:.3f} sil={turns.trailing_silence_s:.2f} pause={turns.pause_s:.2f}"
                        f" hint={turns.sentence} arr={done:.2f}"
                    )
            elif isinstance(event, Word):
                run.arrivals.append((event.text, done))
                if trace:
                    print(f"        WORD {event.text!r} {event.start_s:.2f}-{event.stop_s:.2f}")
            elif isinstance(event, UtteranceEnd) and trace:
                print(f"        UTTERANCE END at {event.stop_s:.2f}")
    events = pipeline.finish()
    run.arrivals += [(e.text, done) for e in events if isinstance(e, Word)]
    run.text = " ".join(t for t, _ in run.arrivals)
    return run, busy


def count_calls(cls: type, name: str) -> list[float]:
    """Count the calls of a method and the CPU seconds spent in them (``[calls, seconds]``, updated
    in place); zeros if the method is missing."""
    calls = [0, 0.0]
    method = getattr(cls, name, None)
    if method is None:
        return calls

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return method(self, *args, **kwargs)
        finally:
            calls[0] += 1
            calls[1] += time.process_time() - started

    setattr(cls, name, counted)
    return calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=default_corpus())
    parser.add_argument("--trace", default="", help="print the per-step trace of this clip only")
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--early-pass-s", type=float, help="SttPipeline.early_pass_s (a variant)")
    args = parser.parse_args()
    manifest = json.loads((args.corpus / "manifest.json").read_text())
    recognizers = Recognizers()
    recognizers.warm()
    passes = {
        name: count_calls(WhisperDecoder, name)
        for name in ("hypothesis", "finish", "final_hypothesis", "finish_early")
    }
    if args.trace:
        entry = next(e for e in manifest if e["file"] == args.trace)
        run, _ = run_clip(recognizers, args.corpus, entry["file"], entry["language"], True, args.early_pass_s)
        print(run.text)
        return
    english = load_clips(args.corpus, None, 0.0)
    runs, busy = [], 0.0
    for entry in manifest:
        run, cpu = run_clip(
            recognizers, args.corpus, entry["file"], entry["language"], early_pass_s=args.early_pass_s
        )
        runs.append(run)
        busy += cpu
    audio = sum(r.duration_s + 2.0 for r in runs)
    results: dict[str, Any] = summarise(runs, english, [], manifest)
    results["cpu_per_audio_s"] = round(busy / audio, 3)
    results["passes"] = {name: [calls, round(cpu, 1)] for name, (calls, cpu) in passes.items()}
    for row in results["per_clip"]:
        if "end_of_turn_s" in row:
            eot = f"{row['end_of_turn_s']} ({row['end_of_turn_wall_s']})"
            print(f"{row['clip']:40} eot {eot}  wer {row['wer']}")
        else:
            print(f"{row['clip']:40} wer {row['wer']}")
    for key in (
        "wer_by_language",
        "wer_fr_de_es_pt",
        "end_of_turn_s",
        "end_of_turn_wall_s",
        "pauses_inside_sentences",
        "pauses_between_sentences",
        "cpu_per_audio_s",
        "passes",
    ):
        print(key, results[key])
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
