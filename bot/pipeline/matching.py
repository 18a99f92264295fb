"""Alertmanager's two receivers (webhook and Slack post) reporting one alert: matched, linked.

The fast stage's part of `bot/incidents/matching.py`: under the alert name's match lock, decide
whether a post or webhook is the other receiver's copy of an incident we already count (then it
joins that incident, or is only linked to it), and post the link notes in both threads.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext

from bot.context.store import ContextStore, ThreadInfo
from bot.incidents.matching import Match, Matcher, from_post
from bot.incidents.models import Incident
from bot.incidents.store import IncidentStore
from bot.models import Alert
from bot.pipeline.jobs import JobBase
from bot.render.format import thread_url
from bot.render.incident import render_action_note
from bot.slack.replies import Replier


class ReceiverMatching:
    """Matching of the other receiver's copy, and the link notes between their threads."""

    def __init__(self, incidents: IncidentStore, store: ContextStore, replier: Replier) -> None:
        self.incidents = incidents
        self.store = store
        self.replier = replier
        self.matcher: Matcher | None = Matcher(incidents, store)

    async def covered(self, incident: Incident) -> Incident:
        """The analysis already covers what the other receiver's copy added (its labels name
        the service the default Slack template only hinted at): not a material change."""

        def covered(i: Incident) -> None:
            i.analysed_services = sorted(set(i.analysed_services) | set(i.services))

        return await self.incidents.update(incident.id, covered) or incident

    def lock(self, group: list[Alert]) -> AbstractAsyncContextManager[object]:
        if group[0].source != "alertmanager" or self.matcher is None:
            return nullcontext()
        return self.incidents.match_lock(group[0].name)

    async def match(self, group: list[Alert]) -> Match:
        """Webhook vs Slack post of one Alertmanager alert (bot/incidents/matching.py)."""
        if group[0].source != "alertmanager" or self.matcher is None:
            return Match()
        own_key = self.incidents.group_key(group[0])
        current = await self.incidents.current(own_key)
        if current is not None and current.group_key != own_key and not from_post(group[0]):
            return Match(sure=current)  # matched earlier: keep counting into that incident
        if current is not None:
            # the group has its incident; a post there after the webhook joined it is the same
            # notification twice: only a status it changes is taken (matched, not counted)
            if from_post(group[0]) and await self.matcher.has_webhook(current):
                changed = any(
                    a.fingerprint in current.alerts
                    and current.alerts[a.fingerprint].status != a.status
                    for a in group
                )
                return Match() if changed else Match(sure=current, linked_only=True)
            return Match()
        if from_post(group[0]):
            return await self.matcher.for_post(group)
        return await self.matcher.for_webhook(group)

    async def link(
        self,
        job: JobBase,
        incident: Incident,
        group: list[Alert],
        channel: str,
        thread_ts: str | None,
        *,
        sure: bool = False,
    ) -> None:
        """A note in `thread_ts` pointing at `incident`'s thread; follow-ups there get its
        context when the match is sure."""
        if not thread_ts or not incident.thread_ts:
            return
        where = thread_url(incident.channel, incident.thread_ts)
        text = (
            f"🔗 Same alert as {incident.id}, which the other Alertmanager receiver already "
            f"reported: follow it in <{where}|its thread> (not counted or analysed twice)."
            if sure
            else f"🔗 Possibly the same alert as {incident.id} (<{where}|its thread>): not "
            "analysed twice. Ask here or there if they differ."
        )
        blocks, fallback = render_action_note(text)
        await self.replier.ensure(
            job.id,
            f"link:{incident.id}:{thread_ts}",
            channel=channel,
            thread_ts=thread_ts,
            blocks=blocks,
            text=fallback,
        )
        if sure:
            await self.store.set_thread(
                ThreadInfo(
                    channel=channel,
                    thread_ts=thread_ts,
                    kind="alert",
                    fingerprint=group[0].fingerprint,
                    alert=group[0],
                    job_id=job.id,
                    incident_id=incident.id,
                )
            )
