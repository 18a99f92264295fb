"""A local fake of Alertmanager's v2 silences API, reached by the real client over HTTP.

Why: the client's value is in what Alertmanager accepts and how it fails, so the fake answers the
way Alertmanager 0.25 does (checked against the real binary): 415 without a JSON content type,
422 `{"code", "message"}` for missing required fields, 400 with a JSON *string* for invalid
silences (start not before end, end in the past, all matchers matching the empty string, bad
label names), 404 for updating an unknown id, and on DELETE 200 (also for an already expired
silence), 500 "silence not found" for an unknown id, 422 for a non-UUID. It stores silences,
records requests, and can be told to fail with a status or to hang (for timeouts).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

JSONDict = dict[str, Any]
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"parsing time {value!r}")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"parsing time {value!r}: no zone")
    return parsed


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeAlertmanager:
    """`/api/v2/silences` and `/api/v2/silence/{id}` on 127.0.0.1 (random port)."""

    def __init__(self, *, prefix: str = "") -> None:
        self.prefix = prefix.rstrip("/")
        self.silences: dict[str, JSONDict] = {}
        self.requests: list[JSONDict] = []
        self._fail: tuple[int, str] | None = None
        self._hang = asyncio.Event()
        self._hanging = False
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(f"{self.prefix}/api/v2/silences", self._post)
        app.router.add_get(f"{self.prefix}/api/v2/silences", self._list)
        app.router.add_get(f"{self.prefix}/api/v2/silence/{{sid}}", self._get)
        app.router.add_delete(f"{self.prefix}/api/v2/silence/{{sid}}", self._delete)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._hang.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeAlertmanager:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeAlertmanager.start() was not awaited")
        return f"http://127.0.0.1:{self._port}{self.prefix}"

    # --- modes ----------------------------------------------------------------------------------
    def fail(self, status: int, message: str = "internal error") -> None:
        """Answer every request with `status` and a JSON-string body, until `reset()`."""
        self._fail = (status, message)

    def hang(self) -> None:
        """Accept requests and never answer (until `reset()` or `stop()`)."""
        self._hanging = True
        self._hang = asyncio.Event()

    def reset(self) -> None:
        self._fail = None
        self._hanging = False
        self._hang.set()

    # --- HTTP -----------------------------------------------------------------------------------
    @staticmethod
    def _api_error(status: int, code: int, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message}, status=status)

    @staticmethod
    def _string(status: int, message: str) -> web.Response:
        return web.json_response(message, status=status)

    async def _common(self, request: web.Request) -> web.Response | None:
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        if self._hanging:
            await self._hang.wait()
        if self._fail is not None:
            return self._string(self._fail[0], self._fail[1])
        return None

    def _state(self, silence: JSONDict) -> str:
        now = datetime.now(UTC)
        if _time(silence["endsAt"]) <= now:
            return "expired"
        return "pending" if _time(silence["startsAt"]) > now else "active"

    def _gettable(self, silence: JSONDict) -> JSONDict:
        return {**silence, "status": {"state": self._state(silence)}}

    def _validate(self, body: Any) -> web.Response | None:
        """The checks Alertmanager makes, in its order, with its statuses and wording."""
        if not isinstance(body, dict):
            return self._api_error(400, 400, "parsing silence body failed: not an object")
        for field in ("matchers", "startsAt", "endsAt", "createdBy", "comment"):
            if field not in body:
                return self._api_error(422, 602, f"{field} in body is required")
        matchers = body["matchers"]
        if not isinstance(matchers, list) or not matchers:
            return self._api_error(422, 612, "matchers in body should have at least 1 items")
        for i, matcher in enumerate(matchers):
            for field in ("name", "value", "isRegex"):
                if not isinstance(matcher, dict) or field not in matcher:
                    return self._api_error(422, 602, f"matchers.{i}.{field} in body is required")
        if not isinstance(body["createdBy"], str) or not isinstance(body["comment"], str):
            return self._api_error(422, 602, "createdBy and comment in body must be strings")
        try:
            starts, ends = _time(body["startsAt"]), _time(body["endsAt"])
        except ValueError as exc:
            return self._api_error(400, 400, f"parsing silence body failed, because {exc}")
        if starts >= ends:
            return self._string(400, "Failed to create silence: start time must be before end time")
        if ends < datetime.now(UTC):
            return self._string(400, "Failed to create silence: end time can't be in the past")
        for i, matcher in enumerate(matchers):
            if not _LABEL_NAME.match(str(matcher["name"])):
                return self._string(
                    400,
                    f'silence invalid: invalid label matcher {i}: invalid label name "'
                    f'{matcher["name"]}"',
                )
        if all(m["value"] == "" and m.get("isEqual", True) and not m["isRegex"] for m in matchers):
            return self._string(
                400, "silence invalid: at least one matcher must not match the empty string"
            )
        return None

    async def _post(self, request: web.Request) -> web.Response:
        if failed := await self._common(request):
            return failed
        if request.content_type != "application/json":
            return self._api_error(
                415,
                415,
                f'unsupported media type "{request.content_type}", only [application/json] are '
                "allowed",
            )
        try:
            body = json.loads(self.requests[-1]["body"])
        except ValueError as exc:
            return self._api_error(400, 400, f"parsing silence body failed, because {exc}")
        if invalid := self._validate(body):
            return invalid
        silence_id = body.get("id") or str(uuid.uuid4())
        if body.get("id") and silence_id not in self.silences:
            return self._string(404, "silence not found")
        now = datetime.now(UTC)
        starts = max(_time(body["startsAt"]), now)
        self.silences[silence_id] = {
            "id": silence_id,
            "matchers": [{"isEqual": True, **m} for m in body["matchers"]],
            "startsAt": _rfc3339(starts),
            "endsAt": _rfc3339(_time(body["endsAt"])),
            "createdBy": body["createdBy"],
            "comment": body["comment"],
            "updatedAt": _rfc3339(now),
        }
        return web.json_response({"silenceID": silence_id})

    async def _list(self, request: web.Request) -> web.Response:
        if failed := await self._common(request):
            return failed
        return web.json_response([self._gettable(s) for s in self.silences.values()])

    def _lookup(self, request: web.Request) -> tuple[str, web.Response | None]:
        sid = request.match_info["sid"]
        if not _UUID.match(sid):
            return sid, self._api_error(
                422, 601, f'silenceID in path must be of type uuid: "{sid}"'
            )
        return sid, None

    async def _get(self, request: web.Request) -> web.Response:
        if failed := await self._common(request):
            return failed
        sid, invalid = self._lookup(request)
        if invalid:
            return invalid
        if sid not in self.silences:
            return web.Response(status=404)
        return web.json_response(self._gettable(self.silences[sid]))

    async def _delete(self, request: web.Request) -> web.Response:
        if failed := await self._common(request):
            return failed
        sid, invalid = self._lookup(request)
        if invalid:
            return invalid
        silence = self.silences.get(sid)
        if silence is None:
            return self._string(500, "silence not found")
        state = self._state(silence)
        if state != "expired":
            now = _rfc3339(datetime.now(UTC))
            silence.update({"endsAt": now, "updatedAt": now})
            if state == "pending":  # never started: it ends where it would have begun
                silence["startsAt"] = now
        return web.Response(status=200)
