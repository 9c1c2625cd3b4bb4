"""SttWorkerPool with real worker processes: same words as in-process, errors as events, clean shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest

from gradium.speech.stt_engines import Recognizers, SttEngineOptions
from gradium.speech.stt_pipeline import SttPipeline, UnsupportedLanguageError, Word
from gradium.workers.stt_pool import (
    Finished,
    Flushed,
    PoolEvent,
    StreamError,
    SttStreamHandle,
    SttWorkerPool,
    restart_delay,
)
from stt_corpus import Clip, chunks, corpus_clips, english_clips, run_pipeline, wer, words_of

# The pool fixture lives on the session loop (asyncio_default_fixture_loop_scope); its reader threads
# deliver into that loop, so the tests must run on it too.
pytestmark = pytest.mark.asyncio(loop_scope="session")

SHORT_CLIPS = ("en_goforward.raw", "en_cards_005.wav", "en_librispeech_2830-3980-0043.wav")


def clip_named(name: str) -> Clip:
    return next(c for c in english_clips() if c.name == name)


POCKETSPHINX = SttEngineOptions(engine="pocketsphinx")


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[SttWorkerPool]:
    """A pocketsphinx pool: deterministic per step, so it must match the in-process pipeline exactly."""
    stt = SttWorkerPool(2, options=POCKETSPHINX)
    await stt.start()
    yield stt
    await stt.close()


async def collect(handle: SttStreamHandle) -> list[PoolEvent]:
    return [event async for event in handle]


async def stream_clip(pool: SttWorkerPool, clip: Clip, language: str = "en") -> list[PoolEvent]:
    handle = pool.open_stream(clip.input_format, language)
    reader = asyncio.ensure_future(collect(handle))
    for chunk in chunks(clip.data):
        await handle.feed(chunk)
        await asyncio.sleep(0)  # interleave the three streams
    await handle.flush(7)
    await handle.finish()
    events = await asyncio.wait_for(reader, 120)
    await handle.close()
    return events


async def test_concurrent_streams_match_in_process(pool: SttWorkerPool) -> None:
    clips = [clip_named(name) for name in SHORT_CLIPS]
    results = await asyncio.gather(*(stream_clip(pool, clip) for clip in clips))
    for clip, events in zip(clips, results, strict=True):
        assert isinstance(events[-1], Finished), events[-1]
        assert sum(isinstance(e, Flushed) and e.flush_id == 7 for e in events) == 1
        expected = SttPipeline(clip.input_format)
        local = [e for c in chunks(clip.data) for e in expected.feed(c)]
        local += [*expected.flush(), *expected.finish()]
        assert [e for e in events if isinstance(e, Word)] == [e for e in local if isinstance(e, Word)]
        assert [e for e in events if not isinstance(e, (Word, Flushed, Finished))] == [
            e for e in local if not isinstance(e, Word)
        ]


async def test_reused_decoders_give_the_same_words(pool: SttWorkerPool) -> None:
    clip = clip_named(SHORT_CLIPS[0])
    expected = [e for e in run_pipeline(SttPipeline(clip.input_format), clip.data) if isinstance(e, Word)]
    for _ in range(2):
        events = await stream_clip(pool, clip)
        assert [e for e in events if isinstance(e, Word)] == expected


async def test_bad_format_and_bad_audio_give_stream_errors(pool: SttWorkerPool) -> None:
    unknown = pool.open_stream("mp3")
    events = await asyncio.wait_for(unknown.next_events(), 60)
    assert isinstance(events[-1], StreamError) and "mp3" in events[-1].message
    assert await unknown.next_events() == []

    garbage = pool.open_stream("wav")
    for _ in range(4):
        await garbage.feed(b"definitely not a RIFF WAVE header" * 8)
    await garbage.finish()
    events = await asyncio.wait_for(collect(garbage), 60)
    assert isinstance(events[-1], StreamError), events


async def test_config_errors_are_raised_before_opening(pool: SttWorkerPool) -> None:
    with pytest.raises(UnsupportedLanguageError, match=r"installed: en$"):
        pool.validate("fr", 10, 0.0)
    with pytest.raises(ValueError, match="delay_in_frames"):
        pool.validate("en", 11, 0.0)
    whisper = SttWorkerPool(1)  # the default engine; nothing starts before a stream
    assert whisper.validate("fr-FR") == ("whisper", "fr")
    assert whisper.validate(None) == ("whisper", "auto")
    assert whisper.validate("en", model_name="pocketsphinx") == ("pocketsphinx", "en")
    with pytest.raises(UnsupportedLanguageError, match="installed: en, fr, de, es, pt"):
        whisper.validate("ja")
    with pytest.raises(UnsupportedLanguageError, match="model_name"):
        whisper.validate("en", model_name="large-v9")


async def test_whisper_pool_transcribes_five_languages() -> None:
    """The default layout on 2 cores: one process whose two threads run passes of any stream at
    once. Words other than English come only from final passes (not from partials, which depend on
    timing), so they must be exactly the in-process pipeline's: a pass that picked up another
    thread's encoder window (partials 10 s, these finals 30 s) would change them."""
    options = SttEngineOptions(threads=2)
    stt = SttWorkerPool(1, options=options)
    await stt.start()
    try:
        clips = {c.language: c for c in corpus_clips()}  # one clip per language
        results = await asyncio.gather(
            *(stream_clip(stt, clip, language=language) for language, clip in clips.items())
        )
        assert len(stt.worker_pids()) == 1
    finally:
        await stt.close()
    recognizers = Recognizers(options)
    for (language, clip), events in zip(clips.items(), results, strict=True):
        assert isinstance(events[-1], Finished), events[-1]
        words = [e for e in events if isinstance(e, Word)]
        assert [w.start_s for w in words] == sorted(w.start_s for w in words)
        assert wer(clip.transcript, " ".join(w.text for w in words), language) < 0.35, (language, words)
        if language != "en":
            pipeline = SttPipeline(
                clip.input_format,
                language=language,
                decoder=recognizers.decoder("whisper", language, 0.0),
                vad=recognizers.vad("whisper"),
            )
            assert words == words_of(run_pipeline(pipeline, clip.data)), language


async def test_one_worker_serves_its_streams_on_several_threads_in_order() -> None:
    """Three threads over five concurrent streams: each stream's events stay in order and are the
    in-process pipeline's (pocketsphinx is deterministic per step)."""
    stt = SttWorkerPool(1, options=SttEngineOptions(engine="pocketsphinx", threads=3))
    await stt.start()
    try:
        clips = [clip_named(name) for name in (*SHORT_CLIPS, *SHORT_CLIPS[:2])]
        results = await asyncio.gather(*(stream_clip(stt, clip) for clip in clips))
        assert len(stt.worker_pids()) == 1
    finally:
        await stt.close()
    for clip, events in zip(clips, results, strict=True):
        assert isinstance(events[-1], Finished), events[-1]
        expected = SttPipeline(clip.input_format)
        local = [e for c in chunks(clip.data) for e in expected.feed(c)]
        local += [*expected.flush(), *expected.finish()]
        assert [e for e in events if not isinstance(e, (Flushed, Finished))] == local


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_workers_start_with_the_first_stream() -> None:
    stt = SttWorkerPool(2, options=POCKETSPHINX)
    await stt.start()
    assert stt.worker_pids() == []  # an idle server holds no STT process
    events = await stream_clip(stt, clip_named(SHORT_CLIPS[0]))
    assert isinstance(events[-1], Finished)
    assert any(isinstance(e, Word) for e in events)
    for _ in range(600):  # the second worker starts once the first is ready
        if len(stt.worker_pids()) == 2:
            break
        await asyncio.sleep(0.1)
    pids = stt.worker_pids()
    assert len(pids) == 2
    await stt.close()
    assert not any(alive(p) for p in pids)


async def test_unknown_engine_or_search_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="search mode"):
        SttEngineOptions(engine="pocketsphinx", search="sloppy")
    with pytest.raises(ValueError, match="unknown STT engine"):
        SttEngineOptions(engine="kaldi")


async def test_worker_crash_fails_its_streams_and_close_leaves_no_process() -> None:
    stt = SttWorkerPool(1, prestart=True, options=POCKETSPHINX)
    await stt.start()
    (pid,) = stt.worker_pids()
    handle = stt.open_stream("pcm_16000")
    await handle.feed(bytes(16000))
    os.kill(pid, signal.SIGKILL)  # our own child, killed to simulate a crash
    events = await asyncio.wait_for(collect(handle), 60)
    assert isinstance(events[-1], StreamError)
    # A replacement worker serves new streams.
    for _ in range(600):
        if stt.worker_pids() != [pid] and all(w.ready.done() for w in stt._workers):
            break
        await asyncio.sleep(0.1)
    clip = clip_named(SHORT_CLIPS[0])
    events = await stream_clip(stt, clip)
    assert isinstance(events[-1], Finished)
    pids = stt.worker_pids()
    await stt.close()
    assert pids and not any(alive(p) for p in [pid, *pids])


async def wait_for_pid(stt: SttWorkerPool, timeout_s: float = 30) -> int:
    for _ in range(int(timeout_s * 200)):
        if pids := stt.worker_pids():
            return pids[0]
        await asyncio.sleep(0.005)
    raise AssertionError("no STT worker started")


async def test_a_worker_killed_while_starting_is_replaced() -> None:
    # issue 12 #7: the lazily started first worker died before it was ready, and STT was gone
    # for good ("no STT worker is available") while /api/health said ok.
    stt = SttWorkerPool(1, options=POCKETSPHINX)
    await stt.start()
    try:
        handle = stt.open_stream("pcm_16000")
        first = await wait_for_pid(stt)
        os.kill(first, signal.SIGKILL)  # long before pocketsphinx has loaded
        events = await asyncio.wait_for(collect(handle), 60)
        assert isinstance(events[-1], StreamError)
        assert stt.problem() is not None and "exited while starting" in stt.problem()  # type: ignore[operator]
        events = await stream_clip(stt, clip_named(SHORT_CLIPS[0]))  # the replacement serves it
        assert isinstance(events[-1], Finished)
        assert stt.problem() is None and first not in stt.worker_pids()
    finally:
        pids = stt.worker_pids()
        await stt.close()
    assert not any(alive(p) for p in pids)


async def test_restarts_back_off_after_repeated_start_failures() -> None:
    assert [restart_delay(n) for n in (1, 2, 3, 4, 8, 20)] == [0.0, 1.0, 2.0, 4.0, 30.0, 30.0]


async def test_a_burst_of_streams_at_start_up_is_spread_over_the_workers() -> None:
    # Streams opened before the first (lazily started) worker was ready all went to it and stayed
    # there: one worker carried 6 real-time streams while the other was idle.
    stt = SttWorkerPool(2, options=POCKETSPHINX)
    await stt.start()
    handles = [stt.open_stream("pcm_16000") for _ in range(4)]
    assert len(stt._workers) == 2
    assert sorted(len(w.streams) for w in stt._workers) == [2, 2]
    for handle in handles:
        await handle.finish()
    for handle in handles:
        events = await asyncio.wait_for(collect(handle), 120)
        assert isinstance(events[-1], Finished)
    await stt.close()
