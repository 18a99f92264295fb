"""Socket Mode for the local Slack: the WebSocket `apps.connections.open` hands out.

It sends `hello`, pushes envelopes (events, commands, interactions) to every connected client,
collects the clients' acks by envelope id, and can rotate (`disconnect`) or drop connections
abruptly, so the SDK's reconnect logic is exercised for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field

import structlog
from aiohttp import WSMsgType, web

from bot.devtools.slack.workspace import JSONDict

log = structlog.get_logger(__name__)


@dataclass
class _SocketConn:
    ws: web.WebSocketResponse
    request: web.Request
    closed: asyncio.Event = field(default_factory=asyncio.Event)


class SocketMode:
    """The WebSocket side: connections, envelopes and acks."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.acks: dict[str, JSONDict] = {}
        self.connections_opened = 0
        self._sockets: list[_SocketConn] = []
        self._ack_events: dict[str, asyncio.Event] = {}

    @property
    def connected(self) -> bool:
        return bool(self._sockets)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        # autoping=True: the server answers the SDK's "sdk-ping-pong:<t>" pings with pongs that
        # echo the payload, which is what keeps the client's stale-connection monitor happy.
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _SocketConn(ws, request)
        self._sockets.append(conn)
        self.connections_opened += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {
                    "host": "wizard-sandbox",
                    "build_number": 1,
                    "approximate_connection_time": 3600,
                },
                "connection_info": {"app_id": self.app_id},
            }
        )
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    log.warning("slack_sandbox_bad_ws_frame", data=str(msg.data)[:200])
                    continue
                envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
                if isinstance(envelope_id, str):
                    self.acks[envelope_id] = data
                    self._ack_event(envelope_id).set()
        finally:
            conn.closed.set()
            if conn in self._sockets:
                self._sockets.remove(conn)
        return ws

    def _ack_event(self, envelope_id: str) -> asyncio.Event:
        return self._ack_events.setdefault(envelope_id, asyncio.Event())

    async def send_envelope(self, payload: JSONDict, type: str = "events_api") -> str:
        if not self._sockets:
            raise RuntimeError("no Socket Mode client is connected")
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": type != "events_api",
            "retry_attempt": 0,
            "retry_reason": "",
        }
        self._ack_event(envelope_id)
        for conn in list(self._sockets):
            await conn.ws.send_json(envelope)
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> JSONDict:
        async with asyncio.timeout(timeout):
            await self._ack_event(envelope_id).wait()
        return self.acks[envelope_id]

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        for conn in list(self._sockets):
            await conn.ws.send_json(
                {"type": "disconnect", "reason": reason, "debug_info": {"host": "wizard-sandbox"}}
            )

    async def drop_connections(self, *, abrupt: bool = True) -> None:
        conns = list(self._sockets)
        for conn in conns:
            if abrupt:
                transport = conn.request.transport
                if transport is not None:
                    transport.abort()
            else:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.ws.close(code=1001, message=b"going away"), 2)
        for conn in conns:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.closed.wait(), 2)
            if conn in self._sockets:
                self._sockets.remove(conn)
