"""A read-only client of Loki's HTTP query API (`/loki/api/v1/query_range`), for `logs_query`.

Only `LOKI_URL` is contacted. Lines come back newest first, as `(time, labels, line)`; the tool
layer redacts and cuts them before the model sees any.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from pydantic import SecretStr
from yarl import URL

from bot.evidence.http import Endpoint, SourceUnavailable, get_json

DEFAULT_TIMEOUT_S = 3.0


class LokiClient(Endpoint):
    """LogQL range queries against one configured Loki."""

    def __init__(
        self,
        url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        bearer_token: SecretStr | None = None,
    ) -> None:
        super().__init__(url, session=session, timeout_s=timeout_s, bearer=bearer_token)

    async def lines(
        self, query: str, *, minutes: int, limit: int, timeout_s: float | None = None
    ) -> list[tuple[datetime, dict[str, str], str]]:
        end = datetime.now(UTC)
        params = {
            "query": query,
            "start": str(int((end - timedelta(minutes=minutes)).timestamp() * 1e9)),
            "end": str(int(end.timestamp() * 1e9)),
            "limit": str(limit),
            "direction": "backward",
        }
        body: Any = await get_json(
            self._http(),
            URL(self.display_url + "/loki/api/v1/query_range"),
            params=params,
            headers=self._headers,
            timeout_s=timeout_s or self.timeout_s,
            what="loki",
        )
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or body.get("status") != "success":
            raise SourceUnavailable("bad answer from Loki")
        found: list[tuple[datetime, dict[str, str], str]] = []
        for stream in data.get("result") or []:
            if not isinstance(stream, dict):
                continue
            labels = {str(k): str(v) for k, v in (stream.get("stream") or {}).items()}
            for pair in stream.get("values") or []:
                if isinstance(pair, list) and len(pair) == 2:
                    at = datetime.fromtimestamp(int(pair[0]) / 1e9, UTC)
                    found.append((at, labels, str(pair[1])))
        found.sort(key=lambda item: item[0], reverse=True)
        return found[:limit]
