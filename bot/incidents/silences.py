"""Silencing an incident in Alertmanager from Slack: exact matchers, once, and undoable.

A silence that is too broad hides other alerts (an `env=staging` alert with the same name); one
that is stacked on every click leaves a trail of duplicates; one that cannot be expired from
Slack, or whose card still says "silenced" after it expired, misleads the next responder. So:

- matchers are the identifying labels of the incident's alerts (`silence_matchers`: alertname +
  every non-volatile label), taken from the Alertmanager record of each alert (the webhook, or a
  post that printed the full label set);
- when only the alert name is known (Alertmanager's default Slack template shows label *values*
  without their names), nothing is created: the clicker is shown the exact matcher and asked to
  confirm a name-only silence;
- one silence per incident, user and window: a repeat click within the silence's duration (and
  any click whose matchers already have an active silence in Alertmanager) reuses it;
- "Expire silence" expires them through the API, and the card shows Alertmanager's own state
  (`sync`), read back from its API whenever the card is rendered.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import redis.asyncio as redis
import structlog

from bot.alertmanager_api import AlertmanagerError, silence_matchers
from bot.context.store import ContextStore
from bot.incidents.models import Action, Incident
from bot.incidents.store import IncidentStore
from bot.store import keys

log = structlog.get_logger(__name__)

SILENCE_DURATION = timedelta(hours=2)

Tell = Callable[[str], Awaitable[None]]
"""Answer the clicker only (ephemeral)."""
Note = Callable[[Incident, str], Awaitable[None]]
"""A note in the incident's thread, for everyone."""


class SilenceClient(Protocol):
    """What this flow needs from `bot.alertmanager_api.AlertmanagerClient`."""

    async def create_silence(
        self, matchers: dict[str, str], duration: timedelta, created_by: str, comment: str
    ) -> str: ...

    async def expire_silence(self, silence_id: str) -> None: ...

    async def get_silence(self, silence_id: str) -> dict[str, Any]: ...

    async def find_active(self, matchers: dict[str, str]) -> str | None: ...

    async def close(self) -> None: ...


def describe(matchers: dict[str, str]) -> str:
    """`{alertname="X", env="prod"}` as Alertmanager prints a matcher set."""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in matchers.items()) + "}"


class SilenceFlow:
    """Create, reuse, expire and read back the Alertmanager silences of incidents."""

    def __init__(
        self,
        *,
        client: SilenceClient,
        store: ContextStore,
        incidents: IncidentStore,
        redis_client: redis.Redis,
        duration: timedelta = SILENCE_DURATION,
    ) -> None:
        self.client = client
        self.store = store
        self.incidents = incidents
        self.redis = redis_client
        self.duration = duration

    async def matchers(self, incident: Incident) -> list[dict[str, str]]:
        """One matcher set per distinct Alertmanager alert of the incident."""
        sets: list[dict[str, str]] = []
        for entry in incident.alerts.values():
            record = await self.store.get_alert(entry.fingerprint)
            if record is None or record.alert.source != "alertmanager":
                continue
            try:
                found = silence_matchers(record.alert)
            except ValueError:
                continue
            if found not in sets:
                sets.append(found)
        # a name-only set (a default-template post) is the same alert as a full set of that name
        # (its webhook copy): the full labels are the silence, never the bare name
        named = {m["alertname"] for m in sets if len(m) > 1}
        return [m for m in sets if len(m) > 1 or m["alertname"] not in named]

    async def silence(
        self, incident: Incident, user: str, *, confirmed: bool, tell: Tell, note: Note
    ) -> tuple[str, str, dict[str, Any] | None]:
        """(outcome, detail, confirmation prompt or None). The prompt, when returned, is for the
        caller to show the clicker: it names the exact matchers of a name-only silence."""
        mine = keys.incident_silenced_by(incident.id, user)
        earlier = await self.redis.get(mine)
        if earlier:
            made = ", ".join(str(i) for i in json.loads(earlier))
            await tell(f"You already silenced {incident.id} ({made}); nothing new made.")
            return "already silenced", made, None
        sets = await self.matchers(incident)
        if not sets:
            await tell("No Alertmanager alerts in this incident to silence.")
            return "nothing to silence", "", None
        name_only = [m for m in sets if set(m) == {"alertname"}]
        if name_only and not confirmed:
            return (
                "confirmation asked",
                "; ".join(describe(m) for m in name_only),
                {
                    "incident": incident.id,
                    "matchers": [describe(m) for m in sets],
                },
            )
        ids: list[str] = []
        try:
            for matchers in sets:
                existing = await self.client.find_active(matchers)
                ids.append(
                    existing
                    or await self.client.create_silence(
                        matchers,
                        self.duration,
                        f"slack:{user}",
                        f"{incident.id} silenced from Slack via Infrastructure Wizard",
                    )
                )
        except AlertmanagerError as exc:
            log.warning("silence_failed", incident_id=incident.id, error=str(exc)[:300])
            await tell(f"Alertmanager refused the silence: {str(exc)[:200]}")
            return "failed", str(exc)[:300], None
        await self.redis.set(mine, json.dumps(ids), ex=int(self.duration.total_seconds()))
        now = datetime.now(UTC)

        def silenced(i: Incident) -> None:
            i.silences = list(dict.fromkeys([*i.silences, *ids]))
            i.silence_state = "active"
            i.silenced_until = now + self.duration
            i.silence_matchers = sets
            i.actions.append(Action(action="silenced", user=user, at=now, detail=", ".join(ids)))

        updated = await self.incidents.update(incident.id, silenced) or incident
        hours = self.duration.total_seconds() / 3600
        await note(
            updated,
            f"🔕 <@{user}> silenced {updated.id} in Alertmanager for {hours:g} h: "
            + "; ".join(f"`{describe(m)}`" for m in sets)
            + f" (silence {', '.join(ids)}).",
        )
        return "done", ", ".join(ids), None

    async def expire(
        self, incident: Incident, user: str, *, tell: Tell, note: Note
    ) -> tuple[str, str]:
        """Expire every silence of the incident in Alertmanager (already gone counts as done)."""
        if not incident.silences:
            await tell(f"{incident.id} has no silence to expire.")
            return "nothing to expire", ""
        try:
            for silence_id in incident.silences:
                try:
                    await self.client.expire_silence(silence_id)
                except AlertmanagerError as exc:
                    if not exc.not_found:
                        raise
        except AlertmanagerError as exc:
            await tell(f"Alertmanager refused to expire the silence: {str(exc)[:200]}")
            return "failed", str(exc)[:300]
        ids = list(incident.silences)
        now = datetime.now(UTC)

        def expired(i: Incident) -> None:
            i.silence_state = "expired"
            i.silenced_until = now
            i.actions.append(Action(action="unsilenced", user=user, at=now, detail=", ".join(ids)))

        updated = await self.incidents.update(incident.id, expired) or incident
        for key in await self._click_keys(incident.id):
            await self.redis.delete(key)
        await note(updated, f"🔔 <@{user}> expired the silence of {updated.id} ({', '.join(ids)}).")
        return "done", ", ".join(ids)

    async def _click_keys(self, incident_id: str) -> list[str]:
        pattern = keys.incident_silenced_by(incident_id, "*")
        return [str(k) async for k in self.redis.scan_iter(match=pattern, count=100)]

    async def sync(self, incident: Incident) -> Incident:
        """Read the silences' state back from Alertmanager (expired in its UI, or ran out) and
        keep it on the incident, so the card never says "silenced" when it is not."""
        if not incident.silences:
            return incident
        states: list[tuple[str, datetime | None]] = []
        for silence_id in incident.silences[-5:]:
            try:
                silence = await self.client.get_silence(silence_id)
            except (AlertmanagerError, ValueError) as exc:
                log.info("silence_state_unknown", silence_id=silence_id, error=str(exc)[:200])
                return incident  # keep what we knew; the next render asks again
            state = str((silence.get("status") or {}).get("state") or "")
            ends = silence.get("endsAt")
            until = datetime.fromisoformat(ends.replace("Z", "+00:00")) if ends else None
            states.append((state, until))
        active = [until for state, until in states if state in ("active", "pending")]
        new_state: str = "active" if active else "expired"
        until = max((u for u in active if u), default=None) if active else None
        if until is None and not active:
            until = max((u for _, u in states if u), default=None)
        if new_state == incident.silence_state and until == incident.silenced_until:
            return incident

        def synced(i: Incident) -> None:
            i.silence_state = "active" if active else "expired"
            i.silenced_until = until

        return await self.incidents.update(incident.id, synced) or incident
