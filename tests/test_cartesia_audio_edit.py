"""The Cartesia audio-editing endpoints, driven by the unmodified ``cartesia==2.0.17`` SDK.

* ``voice_changer.bytes/sse``: a real human clip converted to a target voice must keep its timing
  (same duration) and its intonation contour (voiced log-F0 correlation), while its median F0 and
  spectral envelope move to the target voice's. Re-synthesizing the recognised words (the former
  approach) fails the duration and correlation checks by far.
* ``tts.infill``: the generated speech has the clips' active-speech level and starts and ends on
  zero samples.

The SDK runs in the official clients' virtualenv and writes what the server returned to files; the
measurements run here, with this project's own WORLD analysis (``voice_profile``).
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import textwrap
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr
from numpy.typing import NDArray

from conftest import CORPUS, LiveServer, official_results
from gradium.audio.files import read_audio_file
from gradium.audio.loudness import active_level_db
from gradium.speech.voice_conversion import fix_octave_jumps
from gradium.speech.voice_profile import (
    VoiceProfile,
    analyse_voice,
    dithered,
    envelope_distance_db,
    pyworld,
)
from wire import exchange, tts_frames

pytestmark = pytest.mark.skipif(pyworld is None, reason="the voice changer needs pyworld")

KENT, EMMA = "LFZvm12tW_z0xfGo", "YTpq7expH9539ERJ"  # catalog: masculine / feminine English voices
# Sentences that differ from the server's calibration text, so the target's reference is independent.
REFERENCE_TEXT = (
    "She sells sea shells by the sea shore, and the shells she sells are surely sea shells. "
    "We will meet again next Wednesday, when the weather should be much better than today. "
    "How many apples did you say were left in the basket on the kitchen table?"
)

PRELUDE = """
import base64, io, json, os, sys, wave
import httpx
from cartesia import Cartesia
from cartesia.core.api_error import ApiError
KEY = os.environ["GRADIUM_API_KEY"]
BASE = os.environ["GRADIUM_BASE_URL"].replace("127.0.0.1", "localhost").removesuffix("/api/")
CORPUS = {corpus!r}
OUT = {out!r}
client = Cartesia(api_key=KEY, base_url=BASE)
out = {{}}
def credits():
    r = httpx.get(BASE + "/api/usages/credits", headers={{"x-api-key": KEY}})
    return r.json()["remaining_credits"]
def save(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
def error_of(call):
    try:
        result = call()
        if hasattr(result, "__iter__") and not isinstance(result, (bytes, str, dict)):
            list(result)
    except ApiError as exc:
        return [exc.status_code, exc.body]
    return None
"""


def run(server: LiveServer, out_dir: Path, body: str, timeout: float = 300) -> dict[str, Any]:
    script = PRELUDE.format(corpus=str(CORPUS) + "/", out=str(out_dir)) + textwrap.dedent(body)
    return official_results(script, server, timeout=timeout)


def read_wav(data: bytes) -> tuple[NDArray[np.float64], int]:
    with wave.open(io.BytesIO(data)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return pcm.astype(np.float64) / 32768.0, w.getframerate()


def corpus_clip(name: str) -> tuple[NDArray[np.float64], int]:
    samples, rate = read_audio_file(CORPUS / name)
    return samples.astype(np.float64), rate


def f0_track(samples: NDArray[np.float64], rate: int) -> NDArray[np.float64]:
    """dio + stonemask F0 every 5 ms on a level-normalised 16 kHz copy (0 = unvoiced), with the
    tracker's octave errors folded back (they are errors of the measure, not of the contour)."""
    assert pyworld is not None
    x = np.asarray(soxr.resample(samples, rate, 16_000), dtype=np.float64)
    x = dithered(x * (0.5 / np.max(np.abs(x))))
    raw, times = pyworld.dio(x, 16_000, 60.0, 500.0, 5.0)
    return fix_octave_jumps(np.asarray(pyworld.stonemask(x, raw, times, 16_000), dtype=np.float64))


def contour_correlation(source: NDArray[np.float64], converted: NDArray[np.float64]) -> float:
    """Pearson correlation of the mean-removed log-F0 over frames voiced in both, frame by frame."""
    n = min(len(source), len(converted))
    both = (source[:n] > 0) & (converted[:n] > 0)
    assert both.sum() > 100, "too few frames voiced in both"
    a, b = np.log(source[:n][both]), np.log(converted[:n][both])
    return float(np.corrcoef(a - a.mean(), b - b.mean())[0, 1])


def semitones(a: float, b: float) -> float:
    return 12.0 * math.log2(a / b)


def measure(
    source: tuple[NDArray[np.float64], int], converted: tuple[NDArray[np.float64], int], target: VoiceProfile
) -> dict[str, float]:
    (x, rx), (y, ry) = source, converted
    before, after = analyse_voice(x, rx), analyse_voice(y, ry)
    assert target.envelope_db is not None and before.envelope_db and after.envelope_db
    return {
        "duration_error_s": abs(len(y) / ry - len(x) / rx),
        "f0_correlation": contour_correlation(f0_track(x, rx), f0_track(y, ry)),
        "median_error_st": semitones(after.f0_median_hz, target.f0_median_hz),
        "source_median_st": semitones(before.f0_median_hz, target.f0_median_hz),
        "envelope_source": envelope_distance_db(before.envelope_db, target.envelope_db),
        "envelope_converted": envelope_distance_db(after.envelope_db, target.envelope_db),
    }


def check(metrics: dict[str, float], label: str) -> None:
    print(label, {key: round(value, 3) for key, value in metrics.items()})  # the README table's figures
    # Same duration within one 5 ms analysis frame: the clip's timing is kept, not re-synthesized.
    assert metrics["duration_error_s"] <= 0.005, (label, metrics)
    # The intonation contour keeps its shape (re-synthesized speech correlates near 0 here).
    assert metrics["f0_correlation"] > 0.8, (label, metrics)
    # The pitch level is the target voice's (within 1.5 semitones, from several semitones away).
    assert abs(metrics["median_error_st"]) < 1.5, (label, metrics)
    assert abs(metrics["source_median_st"]) > 3.0, (label, metrics)
    # The timbre moved towards the target's. Average envelopes also depend on what is said (two
    # texts of one catalog voice differ by 2-4 dB), so only a clear reduction is required.
    assert metrics["envelope_converted"] < 0.9 * metrics["envelope_source"], (label, metrics)


CASES = [  # (clip, target voice): female -> male, male -> female, French (higher-pitched) -> male
    ("en_ljspeech_LJ001-0001.wav", KENT),
    ("en_librivox_ss_0870.wav", EMMA),
    ("fr_fleurs_003.wav", KENT),
]


def test_voice_changer_keeps_timing_and_intonation(live_server: LiveServer, tmp_path: Path) -> None:
    values = run(
        live_server,
        tmp_path,
        f"""
        cases = {CASES!r}
        wav = dict(output_format_container="wav", output_format_encoding="pcm_s16le")
        charges = []
        for index, (clip, voice) in enumerate(cases):
            before = credits()
            data = b"".join(client.voice_changer.bytes(clip=open(CORPUS + clip, "rb"), voice_id=voice,
                                                       output_format_sample_rate=(44100, 16000, 24000)[index],
                                                       **wav))
            charges.append(before - credits())
            save("vc_" + clip.split(".")[0] + ".wav", data)
        out["charges"] = charges
        """,
    )
    manifest = {entry["file"]: entry for entry in json.loads((CORPUS / "manifest.json").read_text())}
    for (clip, _), charge in zip(CASES, values["charges"], strict=True):
        assert charge == math.ceil(15 * manifest[clip]["duration_s"] - 1e-6), (clip, charge)
    for clip, voice in CASES:
        # Catalog targets are measured on their formant rendering (see audio_edit.target_profile).
        frames = tts_frames(REFERENCE_TEXT, voice_id=voice, output_format="pcm_22050", model_name="formant")
        reference = asyncio.run(exchange(live_server, "speech/tts", frames)).audio()
        target = analyse_voice(np.frombuffer(reference, dtype=np.int16) / 32768.0, 22050)
        converted = read_wav((tmp_path / f"vc_{clip.split('.')[0]}.wav").read_bytes())
        check(measure(corpus_clip(clip), converted, target), clip)


def test_voice_changer_cloned_target_formats_sse_and_errors(live_server: LiveServer, tmp_path: Path) -> None:
    values = run(
        live_server,
        tmp_path,
        """
        clone = client.voices.clone(clip=open(CORPUS + "de_fleurs_002.wav", "rb"), name="vc target",
                                    language="de", mode="similarity")
        out["clone"] = clone.id
        clip = open(CORPUS + "en_ljspeech_LJ001-0001.wav", "rb").read()
        save("vc_clone.wav", b"".join(client.voice_changer.bytes(
            clip=clip, voice_id=clone.id, output_format_container="wav", output_format_sample_rate=22050,
            output_format_encoding="pcm_s16le")))
        short = open(CORPUS + "en_librispeech_2830-3980-0043.wav", "rb").read()
        emma, kent = "YTpq7expH9539ERJ", "LFZvm12tW_z0xfGo"
        raw = dict(output_format_container="raw", output_format_sample_rate=16000,
                   output_format_encoding="pcm_s16le")
        save("vc_raw.pcm", b"".join(client.voice_changer.bytes(clip=short, voice_id=emma, **raw)))
        events = list(client.voice_changer.sse(clip=short, voice_id=emma, **raw))
        out["sse_types"] = [events[0].type, events[-1].type, len(events)]
        save("vc_sse.pcm", b"".join(base64.b64decode(e.data) for e in events if e.type == "chunk"))
        save("vc_mulaw.raw", b"".join(client.voice_changer.bytes(
            clip=short, voice_id=emma, output_format_container="raw", output_format_sample_rate=8000,
            output_format_encoding="pcm_mulaw")))
        save("vc.mp3", b"".join(client.voice_changer.bytes(
            clip=open(CORPUS + "en_jfk.flac", "rb"), voice_id=kent, output_format_container="mp3",
            output_format_sample_rate=44100, output_format_bit_rate=64000)))
        before = credits()
        bad_rate = dict(raw, output_format_sample_rate=12345)
        out["errors"] = [
            error_of(lambda: client.voice_changer.bytes(clip=b"not audio" * 100, voice_id=emma, **raw)),
            error_of(lambda: client.voice_changer.bytes(clip=short, voice_id="nope", **raw)),
            error_of(lambda: client.voice_changer.bytes(clip=short, voice_id=emma, **bad_rate)),
        ]
        out["error_charge"] = before - credits()
        """,
    )
    # A cloned (German, lower-pitched) voice as the target: its stored profile is what is matched.
    clone_source, clone_rate = corpus_clip("de_fleurs_002.wav")
    target = analyse_voice(clone_source[: 10 * clone_rate], clone_rate)
    converted = read_wav((tmp_path / "vc_clone.wav").read_bytes())
    check(measure(corpus_clip("en_ljspeech_LJ001-0001.wav"), converted, target), "cloned target")

    # Raw, SSE, mu-law and MP3 outputs: same conversion, exact lengths, the SSE chunks are the bytes.
    short, rate = corpus_clip("en_librispeech_2830-3980-0043.wav")
    raw = (tmp_path / "vc_raw.pcm").read_bytes()
    assert abs(len(raw) // 2 - len(short) * 16_000 // rate) <= 80  # 5 ms at 16 kHz
    assert values["sse_types"][:2] == ["chunk", "done"] and values["sse_types"][2] > 2
    assert (tmp_path / "vc_sse.pcm").read_bytes() == raw
    assert abs(len((tmp_path / "vc_mulaw.raw").read_bytes()) - len(short) * 8_000 // rate) <= 40
    mp3, mp3_rate = read_audio_file(tmp_path / "vc.mp3")
    assert mp3_rate == 44_100 and abs(len(mp3) / mp3_rate - 11.0) < 0.1  # LAME pads a frame or two

    # Bad input is refused before anything is charged.
    assert [error[0] for error in values["errors"]] == [400, 404, 400]
    assert values["error_charge"] == 0


def test_infill_matches_loudness_without_clicks(live_server: LiveServer, tmp_path: Path) -> None:
    transcript = "and then, after a long pause, she went on reading the letter"
    run(
        live_server,
        tmp_path,
        f"""
        fmt = {{"container": "wav", "encoding": "pcm_s16le", "sample_rate": 16000}}
        for name, left, right in [("loud", "en_librivox_ss_0870.wav", "en_librivox_ss_0890.wav"),
                                  ("quiet", "en_fleurs_006_quiet.wav", None)]:
            infill, total = client.tts.infill(
                model_id="sonic-2", language="en", transcript={transcript!r},
                voice={{"mode": "id", "id": "YTpq7expH9539ERJ"}}, output_format=fmt,
                left_audio_path=CORPUS + left, right_audio_path=right and CORPUS + right)
            save("infill_" + name + ".wav", infill)
            save("total_" + name + ".wav", total)
        save("plain.wav", b"".join(client.tts.bytes(model_id="sonic-2", transcript={transcript!r},
                                                    voice={{"mode": "id", "id": "YTpq7expH9539ERJ"}},
                                                    output_format=fmt)))
        """,
    )
    plain, rate = read_wav((tmp_path / "plain.wav").read_bytes())
    plain_db = active_level_db(plain, rate)
    assert plain_db is not None
    for name, sides in [
        ("loud", ["en_librivox_ss_0870.wav", "en_librivox_ss_0890.wav"]),
        ("quiet", ["en_fleurs_006_quiet.wav"]),
    ]:
        infill, infill_rate = read_wav((tmp_path / f"infill_{name}.wav").read_bytes())
        assert infill_rate == 16_000 and len(infill) > 16_000
        levels = [active_level_db(*corpus_clip(side)) for side in sides]
        target_db = float(np.mean([level for level in levels if level is not None]))
        infill_db = active_level_db(infill, infill_rate)
        assert infill_db is not None
        print(
            name,
            {
                "clips_db": target_db,
                "plain_tts_db": plain_db,
                "infill_db": infill_db,
                "plain_first_last": [plain[0], plain[-1]],
                "infill_first_last": [infill[0], infill[-1]],
            },
        )
        assert abs(infill_db - target_db) < 1.0, (name, infill_db, target_db, plain_db)
        # No click: exact zeros at both ends, and a ramp rather than a step over the first/last 1 ms.
        assert infill[0] == 0.0 and infill[-1] == 0.0
        edge = 16  # 1 ms
        assert np.max(np.abs(infill[:edge])) < 0.02 and np.max(np.abs(infill[-edge:])) < 0.02
        total, total_rate = read_wav((tmp_path / f"total_{name}.wav").read_bytes())
        clip_seconds = sum(len(corpus_clip(side)[0]) / corpus_clip(side)[1] for side in sides)
        assert abs(len(total) / total_rate - (clip_seconds + len(infill) / infill_rate)) < 0.05
    # The clips' levels differ by far more than the tolerance, so the matching is real.
    loud = active_level_db(*read_wav((tmp_path / "infill_loud.wav").read_bytes()))
    quiet = active_level_db(*read_wav((tmp_path / "infill_quiet.wav").read_bytes()))
    assert loud is not None and quiet is not None and loud - quiet > 6.0
