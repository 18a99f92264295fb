"""Alertmanager's view of an alert, read through its v2 API (`GET /api/v2/alerts`).

Two questions an on-call asks first: is this alert silenced or inhibited (someone may already
be on it, or a parent alert explains it), and what else of the same service fires right now.
Read-only, and only from `ALERTMANAGER_URL`; silences are created elsewhere
(`bot/alertmanager_api.py`).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from yarl import URL

from bot.alerts.common import SERVICE_KEYS
from bot.evidence.http import Endpoint, SourceUnavailable, get_json
from bot.evidence.models import EvidenceItem
from bot.models import SEVERITY_RANK, Alert

DEFAULT_TIMEOUT_S = 1.5
MAX_NAMED = 8


def matcher(name: str, value: str) -> str:
    """An Alertmanager equality matcher with the value quoted (`"` and `\\` escaped)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'{name}="{escaped}"'


def service_filter(alert: Alert) -> list[str]:
    """Matchers for "alerts of this service": the label the service came from, else alertname."""
    for key in SERVICE_KEYS:
        value = alert.labels.get(key)
        if value and alert.service and value.casefold() == alert.service.casefold():
            return [matcher(key, value)]
    return [matcher("alertname", alert.labels.get("alertname") or alert.name)]


def as_mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_this(entry: dict[str, Any], alert: Alert) -> bool:
    if entry.get("fingerprint") and entry.get("fingerprint") == alert.fingerprint:
        return True
    labels = as_mapping(entry.get("labels"))
    if labels.get("alertname") != (alert.labels.get("alertname") or alert.name):
        return False
    return all(labels.get(k) == v for k, v in alert.labels.items() if k in labels)


class AlertmanagerReader(Endpoint):
    """Reads alerts (with silence/inhibition state) from one configured Alertmanager."""

    def __init__(
        self,
        url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        super().__init__(url, session=session, timeout_s=timeout_s)

    async def alerts(
        self, filters: list[str], *, timeout_s: float | None = None
    ) -> list[dict[str, Any]]:
        """Active, silenced and inhibited alerts matching every matcher in `filters`."""
        url = URL(self.display_url + "/api/v2/alerts")
        query = [("filter", f) for f in filters] + [
            ("active", "true"),
            ("silenced", "true"),
            ("inhibited", "true"),
        ]
        body = await get_json(
            self._http(),
            url.with_query(query),
            headers=self._headers,
            timeout_s=timeout_s or self.timeout_s,
            what="alertmanager",
        )
        if not isinstance(body, list):
            raise SourceUnavailable("answer is not a list of alerts")
        return [a for a in body if isinstance(a, dict)]

    async def state(self, alert: Alert, *, timeout_s: float | None = None) -> EvidenceItem:
        """This alert's state and the service's other firing alerts, as evidence lines."""
        entries = await self.alerts(service_filter(alert), timeout_s=timeout_s)
        lines: list[str] = []
        this = next((e for e in entries if _is_this(e, alert)), None)
        if this is None:
            lines.append("this alert is not active in Alertmanager (resolved, or not routed there)")
        else:
            status = as_mapping(this.get("status"))
            silenced = [str(s) for s in status.get("silencedBy") or []]
            inhibited = [str(s) for s in status.get("inhibitedBy") or []]
            if silenced:
                lines.append(f"this alert is SILENCED by {', '.join(silenced[:3])}")
            if inhibited:
                lines.append(
                    f"this alert is INHIBITED by {len(inhibited)} other alert(s) "
                    f"({', '.join(inhibited[:3])})"
                )
            if not silenced and not inhibited:
                lines.append(f"this alert is {status.get('state') or 'active'}, not silenced")
        others = [e for e in entries if e is not this]
        firing = [e for e in others if as_mapping(e.get("status")).get("state") == "active"]
        scope = service_filter(alert)[0]
        if firing:
            firing.sort(
                key=lambda e: SEVERITY_RANK.get(str(as_mapping(e.get("labels")).get("severity")), 9)
            )
            names = [
                f"{as_mapping(e.get('labels')).get('alertname', '?')} "
                f"({as_mapping(e.get('labels')).get('severity', '?')})"
                for e in firing[:MAX_NAMED]
            ]
            more = f" and {len(firing) - MAX_NAMED} more" if len(firing) > MAX_NAMED else ""
            lines.append(
                f"{len(firing)} other alert(s) with {scope} firing now: {', '.join(names)}{more}"
            )
        else:
            lines.append(f"no other alert with {scope} is firing now")
        suppressed = len(others) - len(firing)
        if suppressed:
            lines.append(f"{suppressed} other alert(s) with {scope} are silenced or inhibited")
        return EvidenceItem(source="alertmanager", name="Alertmanager state", lines=lines)
