"""One bounded GET for every monitoring API the evidence pack reads.

Why one helper: every source must fail the same way — a short timeout, a size cap on the body (a
broad PromQL can return megabytes), a clear one-line reason with the HTTP status — and none may
log credentials or bodies. A failure is a `SourceUnavailable` whose message is what the thread
shows after "not available (…)"; nothing here raises anything else for network trouble.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import aiohttp
import structlog
from pydantic import SecretStr
from yarl import URL

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024
"""A larger answer is refused: the pack summarises a handful of series, not a TSDB dump."""
MAX_REASON_CHARS = 200


class SourceUnavailable(Exception):
    """A monitoring source could not answer; `str(exc)` is the short reason shown to people."""


def auth_headers(
    url: URL,
    *,
    bearer: SecretStr | None = None,
    username: str | None = None,
    password: SecretStr | None = None,
) -> dict[str, str]:
    """Authorization for a configured endpoint: bearer, basic, or credentials in the URL."""
    if bearer is not None:
        return {"Authorization": "Bearer " + bearer.get_secret_value()}
    user = username or url.user
    if user:
        secret = password.get_secret_value() if password is not None else (url.password or "")
        pair = f"{user}:{secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {}


def base_url(raw: str) -> URL:
    """The configured base URL without credentials, query or fragment (safe to log and link)."""
    url = URL(raw)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("a monitoring base URL must be http(s)://host[:port][/prefix]")
    return url.with_user(None).with_password(None).with_query(None).with_fragment(None)


def _reason(status: int, body: bytes) -> str:
    """Prometheus and Loki answer `{"status":"error","error":…}`; Alertmanager a string."""
    text = body.decode("utf-8", "replace").strip()
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    if isinstance(parsed, Mapping):
        parsed = parsed.get("error") or parsed.get("message") or ""
    message = " ".join(str(parsed).split())[:MAX_REASON_CHARS]
    return f"HTTP {status}" + (f": {message}" if message else "")


async def get_json(
    session: aiohttp.ClientSession,
    url: URL,
    *,
    params: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float,
    what: str,
) -> Any:
    """GET `url` and decode JSON, or raise `SourceUnavailable` saying why (timeout, refused,
    HTTP status with the API's own error text, oversized or non-JSON body)."""
    try:
        async with session.get(
            url,
            params=dict(params or {}),
            headers={"Accept": "application/json", **dict(headers or {})},
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,  # a redirect could point anywhere: only configured hosts
        ) as response:
            body = await response.content.read(MAX_BODY_BYTES + 1)
            status = response.status
    except TimeoutError:
        log.info("evidence_source_timeout", source=what, host=url.host, s=timeout_s)
        raise SourceUnavailable(f"no answer within {timeout_s:g}s") from None
    except aiohttp.ClientError as exc:
        log.info(
            "evidence_source_unreachable", source=what, host=url.host, error=type(exc).__name__
        )
        raise SourceUnavailable(
            f"cannot reach {url.host}:{url.port} ({type(exc).__name__})"
        ) from None
    if len(body) > MAX_BODY_BYTES:
        raise SourceUnavailable(f"answer larger than {MAX_BODY_BYTES // 1024 // 1024} MiB")
    if status >= 300:
        log.info("evidence_source_error", source=what, host=url.host, status=status)
        raise SourceUnavailable(_reason(status, body))
    try:
        return json.loads(body)
    except ValueError:
        raise SourceUnavailable("answer is not JSON") from None


class Endpoint:
    """One configured monitoring endpoint: its base URL (credentials split off into headers),
    default timeout, and an aiohttp session (the caller's, or one of its own to close)."""

    def __init__(
        self,
        url: str,
        *,
        session: aiohttp.ClientSession | None,
        timeout_s: float,
        bearer: SecretStr | None = None,
        username: str | None = None,
        password: SecretStr | None = None,
    ) -> None:
        self._headers = auth_headers(URL(url), bearer=bearer, username=username, password=password)
        self.base = base_url(url)
        self.timeout_s = timeout_s
        self._session = session
        self._owns_session = session is None

    @property
    def display_url(self) -> str:
        """The base URL without credentials: safe to log, show and link."""
        return str(self.base).rstrip("/")

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
