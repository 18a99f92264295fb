"""Alertmanager silences through its v2 HTTP API (`api/v2/openapi.yaml` in prometheus/alertmanager).

During an incident the on-call wants the known alert quiet while they work, without muting
anything else. `silence_matchers` picks the labels that identify *this* alert (alertname plus its
identifying labels, never the volatile ones: a silence on a pod name or a value would not hold,
and one on too few labels would hide other alerts). `AlertmanagerClient` creates and expires
silences with bounded timeouts and turns every failure into one `AlertmanagerError` line with the
HTTP status; URLs are logged without credentials and bodies are never logged.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import structlog
from yarl import URL

from bot.alerts.fingerprint import VOLATILE
from bot.models import Alert

log = structlog.get_logger(__name__)

DEFAULT_TIMEOUT_S = 5.0
MAX_DURATION = timedelta(days=7)
"""A silence longer than a week is a config change, not incident handling."""
MAX_ERROR_CHARS = 300

# Labels that change while "the same" alert keeps firing (pods are replaced, HA Prometheus
# replicas label each copy): a silence matching them would stop matching after a restart.
SILENCE_VOLATILE = VOLATILE | frozenset(
    {
        "pod",
        "pod_name",
        "pod_ip",
        "container_id",
        "uid",
        "image_id",
        "prometheus_replica",
        "replica",
        "__replica__",
        "receive",
    }
)
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AlertmanagerError(Exception):
    """An Alertmanager call failed: `status` is the HTTP status (None: no answer at all)."""

    def __init__(self, status: int | None, message: str) -> None:
        self.status = status
        self.message = message
        where = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"Alertmanager {where}: {message}")

    @property
    def not_found(self) -> bool:
        """Alertmanager answers 404 (update) or 500 (expire) with 'silence not found'."""
        return self.status == 404 or "not found" in self.message.lower()


def silence_matchers(alert: Alert) -> dict[str, str]:
    """alertname + the labels that identify this alert, as equality matchers.

    Every label is kept except volatile ones (values, severity, pod names, HA replica labels):
    fewer labels would silence other alerts too. Only Alertmanager alerts carry the labels
    Alertmanager matches on, so other sources are refused.
    """
    if alert.source != "alertmanager":
        raise ValueError(f"only Alertmanager alerts can be silenced (this one is {alert.source})")
    matchers = {
        name: value
        for name, value in sorted(alert.labels.items())
        if name.lower() not in SILENCE_VOLATILE
        and name != "alertname"
        and _LABEL_NAME.match(name)
        and value != ""
    }
    alertname = alert.labels.get("alertname") or alert.name
    if not alertname:
        raise ValueError("the alert has no alertname to silence")
    return {"alertname": alertname, **matchers}


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error_message(body: bytes) -> str:
    """Alertmanager errors are a JSON string, or {"code", "message"} from the API layer."""
    text = body.decode("utf-8", "replace").strip()
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    if isinstance(parsed, Mapping):
        parsed = parsed.get("message") or parsed.get("error") or json.dumps(parsed)
    message = " ".join(str(parsed).split()) or "(empty body)"
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"


class AlertmanagerClient:
    """Creates and expires silences. Reuses a caller's `aiohttp.ClientSession` if given."""

    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        url = URL(str(base_url))
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("Alertmanager base URL must be http(s)://host[:port][/prefix]")
        # credentials in the URL become a Basic auth header, never part of logged URLs
        self._headers = dict(headers or {})
        if url.user is not None:
            pair = f"{url.user}:{url.password or ''}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        self._base = url.with_user(None).with_password(None).with_query(None).with_fragment(None)
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._timeout_s = timeout_s

    @property
    def base_url(self) -> str:
        """The base URL without credentials: safe to log and show."""
        return str(self._base)

    def _url(self, path: str) -> URL:
        return URL(str(self._base).rstrip("/") + "/api/v2/" + path)

    async def __aenter__(self) -> AlertmanagerClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> tuple[int, bytes]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = self._url(path)
        try:
            async with self._session.request(
                method,
                url,
                json=body,
                headers={"Accept": "application/json", **self._headers},
                timeout=self._timeout,
            ) as response:
                payload = await response.read()
                status = response.status
        except TimeoutError:
            log.warning("alertmanager_timeout", method=method, url=str(url), s=self._timeout_s)
            raise AlertmanagerError(None, f"no answer within {self._timeout_s:g}s") from None
        except aiohttp.ClientError as exc:
            log.warning(
                "alertmanager_unreachable", method=method, url=str(url), error=type(exc).__name__
            )
            raise AlertmanagerError(
                None, f"cannot reach {self._base.host}:{self._base.port} ({type(exc).__name__})"
            ) from None
        if status >= 400:
            message = _error_message(payload)
            log.warning("alertmanager_error", method=method, url=str(url), status=status)
            raise AlertmanagerError(status, message)
        return status, payload

    async def create_silence(
        self,
        matchers: Mapping[str, str],
        duration: timedelta,
        created_by: str,
        comment: str,
        *,
        starts_at: datetime | None = None,
    ) -> str:
        """POST /api/v2/silences with equality matchers; returns the new silence's id."""
        if not matchers:
            raise ValueError("a silence needs at least one matcher")
        if not timedelta(0) < duration <= MAX_DURATION:
            raise ValueError(f"silence duration must be positive and at most {MAX_DURATION}")
        if not created_by.strip() or not comment.strip():
            raise ValueError("a silence needs createdBy and a comment (who and why, for audit)")
        bad = [name for name in matchers if not _LABEL_NAME.match(name)]
        if bad:
            raise ValueError(f"not Alertmanager label names: {', '.join(sorted(bad))}")
        start = starts_at or datetime.now(UTC)
        body = {
            "matchers": [
                {"name": name, "value": value, "isRegex": False, "isEqual": True}
                for name, value in matchers.items()
            ],
            "startsAt": _rfc3339(start),
            "endsAt": _rfc3339(start + duration),
            "createdBy": created_by,
            "comment": comment,
        }
        _, payload = await self._request("POST", "silences", body)
        try:
            silence_id = json.loads(payload)["silenceID"]
        except (ValueError, KeyError, TypeError):
            raise AlertmanagerError(200, "answer without a silenceID") from None
        if not isinstance(silence_id, str) or not silence_id:
            raise AlertmanagerError(200, "answer without a silenceID")
        log.info("silence_created", silence_id=silence_id, matchers=len(matchers))
        return silence_id

    async def expire_silence(self, silence_id: str) -> None:
        """DELETE /api/v2/silence/{id}. Expiring an expired silence succeeds (Alertmanager's
        own behaviour); an unknown id raises `AlertmanagerError` with `not_found` true."""
        if not re.fullmatch(r"[0-9A-Fa-f-]{36}", silence_id or ""):
            raise ValueError("a silence id is a UUID")
        await self._request("DELETE", f"silence/{silence_id}")
        log.info("silence_expired", silence_id=silence_id)

    async def get_silence(self, silence_id: str) -> dict[str, Any]:
        """GET /api/v2/silence/{id}: the silence with its `status.state`."""
        if not re.fullmatch(r"[0-9A-Fa-f-]{36}", silence_id or ""):
            raise ValueError("a silence id is a UUID")
        _, payload = await self._request("GET", f"silence/{silence_id}")
        try:
            silence = json.loads(payload)
        except ValueError:
            raise AlertmanagerError(200, "answer is not JSON") from None
        if not isinstance(silence, dict):
            raise AlertmanagerError(200, "answer is not a silence object")
        return silence

    async def find_active(self, matchers: Mapping[str, str]) -> str | None:
        """The id of an active or pending silence with exactly these equality matchers, if any:
        a second click (or a second responder) reuses it instead of stacking another."""
        # filtered here, not with `?filter=`: Alertmanager's filter syntax needs quoting that
        # URL libraries re-encode, and a silence list is small
        _, payload = await self._request("GET", "silences")
        try:
            silences = json.loads(payload)
        except ValueError:
            raise AlertmanagerError(200, "answer is not JSON") from None
        wanted = {(name, value) for name, value in matchers.items()}
        for silence in silences if isinstance(silences, list) else []:
            if not isinstance(silence, dict):
                continue
            state = (silence.get("status") or {}).get("state")
            have = {
                (m.get("name"), m.get("value"))
                for m in silence.get("matchers") or []
                if isinstance(m, dict) and m.get("isEqual", True) and not m.get("isRegex")
            }
            if state in ("active", "pending") and have == wanted:
                return str(silence.get("id"))
        return None
