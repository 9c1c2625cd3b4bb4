"""``WS /stt/turns/websocket``: Cartesia's turn API (``ink-2``) over the shared STT pool.

Binary audio in (``encoding`` and ``sample_rate`` in the query), ``{"type": "close"}`` (or the
words ``close``/``done``) to end. Out: ``connected``, then per user turn ``turn.start``,
``turn.update`` (cumulative transcript), ``turn.eager_end`` (an utterance ended: the turn may be
over), ``turn.resume`` (it was not), ``turn.end`` (final transcript), from
:class:`gradium.speech.turn_events.TurnTracker`. Query ``turn_end_threshold`` (0-1, the 2 s
inactivity probability that ends a turn) and ``turn_end_timeout_ms`` (the longest pause before a
turn ends) tune it; ``turn_start_threshold``, ``turn_eager_end_threshold`` and ``keyterm`` are
accepted and have no effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from gradium.server.billing import RequestMeter
from gradium.server.errors import ProtocolError
from gradium.server.protocol_log import log_protocol_error
from gradium.server.runtime import Runtime
from gradium.speech.stt_pipeline import Partial, Step, UtteranceEnd, Word
from gradium.speech.turn_events import DEFAULT_END_THRESHOLD, DEFAULT_END_TIMEOUT_S, TurnEvent, TurnTracker
from gradium.workers.stt_pool import Finished, StreamError, SttStreamHandle

from .auth import Principal
from .stt import SttBilling, _engine_model, _language
from .stt_audio import RawStream, check_raw_format

ROUTE = "/stt/turns/websocket"
_CLOSE_WORDS = frozenset({"close", "done", '{"type":"close"}', '{"type": "close"}'})


def _number(query: Any, name: str, default: float, low: float, high: float) -> float:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}")
    return value


class TurnsSocket:
    def __init__(self, websocket: WebSocket, runtime: Runtime, principal: Principal) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.request_id = str(uuid.uuid4())
        self.meter = RequestMeter(runtime.store, principal.org_id, "stt")
        limits, pricing = runtime.settings.limits, runtime.settings.pricing
        self.billing = SttBilling(
            self.meter, pricing.stt_credits_per_second, limits.max_audio_seconds_per_request
        )
        self.turns = TurnTracker()

    async def serve(self) -> None:
        await self.ws.accept()
        try:
            raw, language, model = self._open()
        except ValueError as exc:
            await self._error(str(exc), 400)
            await self.ws.close(code=1008)
            return
        await self._send({"type": "connected"})
        handle = self.runtime.stt_pool.open_stream("wav", language, model_name=model)
        relay = asyncio.create_task(self._relay(handle))
        try:
            await handle.feed(raw.header())
            await self._read(handle, raw, relay)
            await relay
        except (WebSocketDisconnect, asyncio.CancelledError):
            pass
        finally:
            relay.cancel()
            with contextlib.suppress(BaseException):
                await relay
            await handle.close()
            with contextlib.suppress(Exception):
                await asyncio.shield(self.meter.record())
            if self.ws.application_state == WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await self.ws.close()

    def _open(self) -> tuple[RawStream, str, str | None]:
        query = self.ws.query_params
        model = _engine_model(query.get("model"))
        language = _language(self.runtime.stt_pool, query.get("language"), model)
        encoding, rate = check_raw_format(query.get("encoding"), query.get("sample_rate"))
        self.turns.end_threshold = _number(query, "turn_end_threshold", DEFAULT_END_THRESHOLD, 0.0, 1.0)
        timeout_ms = _number(query, "turn_end_timeout_ms", DEFAULT_END_TIMEOUT_S * 1000, 100, 30_000)
        self.turns.end_timeout_s = timeout_ms / 1000
        return RawStream(encoding, rate), language, model

    async def _read(self, handle: SttStreamHandle, raw: RawStream, relay: asyncio.Task[None]) -> None:
        idle = self.runtime.settings.limits.idle_timeout_s
        while not relay.done():
            receive = asyncio.ensure_future(self.ws.receive())
            finished, _ = await asyncio.wait(
                {receive, relay}, timeout=idle, return_when=asyncio.FIRST_COMPLETED
            )
            if receive not in finished:
                receive.cancel()
                if not relay.done():
                    await self._error(f"idle timeout: no audio for {idle:g} s", 408)
                return
            frame = receive.result()
            if frame["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(frame.get("code", 1000))
            if frame.get("bytes") is not None:
                await handle.feed(await raw.convert(frame["bytes"]))
            elif str(frame.get("text", "")).strip() in _CLOSE_WORDS:
                await handle.finish()
                return
            else:
                await self._error('unknown message: send binary audio, or {"type": "close"}', 400)

    async def _relay(self, handle: SttStreamHandle) -> None:
        try:
            while batch := await handle.next_events():
                for event in batch:
                    if isinstance(event, StreamError):
                        raise ProtocolError(event.message)
                    if isinstance(event, Finished):
                        await self._emit(self.turns.finish())
                        await self.billing.until(self.meter.audio_seconds, final=True)
                        return
                    if isinstance(event, Step):
                        await self.billing.until(event.total_duration_s)
                    if isinstance(event, Step | Word | Partial | UtteranceEnd):
                        await self._emit(self.turns.feed(event))
        except ProtocolError as exc:
            await self._error(exc.message, 402 if "credits" in exc.message else 400)

    async def _emit(self, events: list[TurnEvent]) -> None:
        for event in events:
            message: dict[str, Any] = {"type": f"turn.{event.kind}"}
            if event.kind in ("update", "eager_end", "end"):
                message["transcript"] = event.transcript
            await self._send(message)

    async def _error(self, message: str, status: int) -> None:
        log_protocol_error("cartesia", ROUTE, self.request_id, message, status)
        await self._send(
            {"type": "error", "status_code": status, "error_code": "invalid_request" if status < 500 else
             "server_error", "title": "error", "message": message}
        )  # fmt: skip

    async def _send(self, message: dict[str, Any]) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.ws.send_text(json.dumps({**message, "request_id": self.request_id}))
