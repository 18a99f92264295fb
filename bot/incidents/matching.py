"""One incident per real alert, whether it came by Alertmanager's webhook or by its Slack post.

Teams often configure both receivers: the webhook (full labels) and a Slack channel (what people
read). Each path alone would open an incident, so one alert became two incidents and two
analyses. The rule (also in README "Alert sources"):

1. A post whose alerts carry Alertmanager's own fingerprint (the custom template prints every
   label, so the fingerprint is recomputed) is the same alert as the incident holding that
   fingerprint: *sure*.
2. A default-template post shows only label values (`[FIRING:2] <group values> (<common
   values>)`): it is the same alert as an open incident, seen in the last `WINDOW`, whose
   Alertmanager alerts have the post's alertname and *every* label value the post shows. Exactly
   one such incident: *sure*. Several, or incidents sharing only the alertname: *unsure*.
3. The webhook arriving after the post is matched the same way, the other way round.

Sure: the second path joins the first path's incident (nothing new is opened or analysed; a post
that arrives second is linked to the incident's thread, not counted twice). Unsure: the second
path opens its own incident but is not analysed; both threads get a note linking the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.context.store import ContextStore
from bot.incidents.models import Incident
from bot.incidents.store import IncidentStore
from bot.models import Alert, AlertRecord

WINDOW = timedelta(minutes=15)
MAX_CANDIDATES = 200


@dataclass
class Match:
    """What the matcher decided for one group of alerts."""

    sure: Incident | None = None
    unsure: list[Incident] = field(default_factory=list)
    linked_only: bool = False
    """The post repeats a notification the incident already counted by webhook."""


def from_post(alert: Alert) -> bool:
    """An Alertmanager alert read from a Slack post (no group key: the webhook always has one)."""
    return alert.source == "alertmanager" and alert.group_key is None


def shown_values(alert: Alert) -> set[str]:
    """The label values a default-template post shows: its title's words after the name."""
    if alert.labels:
        return set(alert.labels.values())
    title = alert.summary.replace("(", " ").replace(")", " ")
    return {t for t in title.split() if t and t != alert.name}


def values_fit(shown: set[str], labels: dict[str, str]) -> bool:
    return bool(labels) and shown <= set(labels.values()) | {labels.get("alertname", "")}


class Matcher:
    """Finds the incident the other receiver's copy of an Alertmanager alert already opened."""

    def __init__(self, incidents: IncidentStore, store: ContextStore) -> None:
        self.incidents = incidents
        self.store = store

    async def has_webhook(self, incident: Incident) -> bool:
        """Whether webhook deliveries already count into `incident` (they carry a group key)."""
        if incident.group_key.startswith("am:"):
            return True
        records = await self.store.alerts_by_fingerprint(list(incident.alerts)[:20])
        return any(record.alert.group_key for record in records.values())

    async def _records_of(self, candidates: list[Incident]) -> dict[str, AlertRecord]:
        """The alert records of every candidate, read in one MGET: one GET per alert of every
        open incident of the name was ~130 round trips per post with 200 incidents open."""
        wanted = list(dict.fromkeys(fp for i in candidates for fp in i.alerts))
        return await self.store.alerts_by_fingerprint(wanted)

    async def _candidates(
        self, name: str, now: datetime, post_fingerprints: list[str] | None = None
    ) -> list[Incident]:
        """Open incidents seen in `WINDOW` holding an alert named `name`. For a post, only
        those `for_post` can pick (filtered in Redis, `IncidentStore.post_candidates`)."""
        if post_fingerprints is None:
            read = await self.incidents.open_mentioning(name, MAX_CANDIDATES)
        else:
            read = await self.incidents.post_candidates(name, post_fingerprints, MAX_CANDIDATES)
        return [
            incident
            for incident in read
            if now - incident.last_seen <= WINDOW
            and any(a.name == name for a in incident.alerts.values())
        ]

    async def for_post(self, alerts: list[Alert], now: datetime | None = None) -> Match:
        """A Slack post's Alertmanager alerts against incidents the webhook opened."""
        now = now or datetime.now(UTC)
        post = next((a for a in alerts if from_post(a)), None)
        if post is None:
            return Match()
        fingerprints = {a.fingerprint for a in alerts}
        candidates = await self._candidates(post.name, now, sorted(fingerprints))
        by_fingerprint = [i for i in candidates if fingerprints & set(i.alerts)]
        if by_fingerprint:
            return Match(sure=by_fingerprint[0])
        shown = shown_values(post)
        fitting = []
        records = await self._records_of(candidates)
        for incident in candidates:
            for entry in incident.alerts.values():
                record = records.get(entry.fingerprint)
                if record is None or from_post(record.alert) or record.alert.name != post.name:
                    continue
                if values_fit(shown, record.alert.labels):
                    fitting.append(incident)
                    break
        if len(fitting) == 1:
            return Match(sure=fitting[0])
        webhook_opened = [i for i in candidates if i.group_key.startswith("am:")]
        return Match(unsure=fitting or webhook_opened)

    async def for_webhook(self, alerts: list[Alert], now: datetime | None = None) -> Match:
        """A webhook group against incidents a default-template post opened first."""
        now = now or datetime.now(UTC)
        first = alerts[0]
        candidates = [
            i for i in await self._candidates(first.name, now) if not i.group_key.startswith("am:")
        ]
        fitting, named = [], []
        records = await self._records_of(candidates)
        for incident in candidates:
            for entry in incident.alerts.values():
                record = records.get(entry.fingerprint)
                if record is None or not from_post(record.alert):
                    continue
                named.append(incident)
                if any(values_fit(shown_values(record.alert), a.labels) for a in alerts):
                    fitting.append(incident)
                break
        if len(fitting) == 1:
            return Match(sure=fitting[0])
        return Match(unsure=fitting or named)
