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

from typing import Any

from starlette.websockets import WebSocket

from gradium.server.errors import ProtocolError
from gradium.server.protocol_log import log_protocol_error
from gradium.server.runtime import Runtime
from gradium.speech.stt_pipeline import Partial, Step, UtteranceEnd, Word
from gradium.speech.turn_events import DEFAULT_END_THRESHOLD, DEFAULT_END_TIMEOUT_S, TurnEvent, TurnTracker
from gradium.workers.stt_pool import Finished, StreamError, SttStreamHandle

from .auth import Principal
from .stt import SttSocket
from .stt_audio import RawStream

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


class TurnsSocket(SttSocket):
    """The streaming STT socket (audio in, billing, idle timeout, credential re-checks) with turn
    events out instead of transcripts."""

    def __init__(self, websocket: WebSocket, runtime: Runtime, principal: Principal) -> None:
        super().__init__(websocket, runtime, principal)
        self.turns = TurnTracker()

    def _open(self) -> RawStream:
        raw = super()._open()
        query = self.ws.query_params
        self.turns.end_threshold = _number(query, "turn_end_threshold", DEFAULT_END_THRESHOLD, 0.0, 1.0)
        timeout_ms = _number(query, "turn_end_timeout_ms", DEFAULT_END_TIMEOUT_S * 1000, 100, 30_000)
        self.turns.end_timeout_s = timeout_ms / 1000
        return raw

    async def _opened(self) -> None:
        await self._send({"type": "connected"})

    async def _command(self, handle: SttStreamHandle, command: str) -> bool:
        if command in _CLOSE_WORDS:
            await handle.finish()
            return True
        await self._error('unknown message: send binary audio, or {"type": "close"}', 400)
        return False

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
