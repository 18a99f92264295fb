"""Every Redis key the bot uses, in one module.

Only `bot/store/` knows key names; everything else calls these functions. The schema (also in
README "Redis key schema"):

| key | type | what | lifetime |
| --- | --- | --- | --- |
| `wizard:dedup:event:{event_id}` | string | Slack event already accepted | 24 h |
| `wizard:dedup:msg:{channel}:{ts}` | string | Slack message already accepted | 24 h |
| `wizard:dedup:hook:{sha}` | string | identical webhook body already accepted | 10 min |
| `wizard:jobs` | stream | durable work queue, consumer group `wizard-workers` | trimmed ~100k (`STREAM_MAXLEN`) |
| `wizard:jobs:dead` | stream | jobs that failed too often or could not be parsed, with the reason | — |
| `wizard:analyses` | stream | durable analysis stage (every model call), consumer group `wizard-analysts` | trimmed ~100k (`STREAM_MAXLEN`) |
| `wizard:analyses:dead` | stream | analyses that failed too often or could not be parsed, with the reason | — |
| `wizard:dedup:analysis:{id}` | string | analysis already queued (a reclaimed fast job asks again) | 24 h |
| `wizard:job:{job_id}` | hash | what a job already posted (channel, thread, message ts, state) | 7 d |
| `wizard:alert:{fingerprint}` | string (JSON `AlertRecord`) | latest state of one alert | 30 d |
| `wizard:alerts:open` | zset fingerprint → last seen | alerts currently firing | — |
| `wizard:alerts:recent` | zset fingerprint → last seen | alerts seen lately (related) | trimmed 7 d |
| `wizard:alerts:service:{service}` | zset fingerprint → last seen | alerts per service | trimmed 7 d |
| `wizard:deploys:{service}` | zset JSON `Deploy` → deploy time | deploy history per service | last 100 |
| `wizard:answers:{fingerprint}` | list JSON `PastAnswer` | earlier triage answers | last 20, 90 d |
| `wizard:thread:{channel}:{thread_ts}` | string JSON | what a thread the bot answered is about | 30 d |
| `wizard:turns:{channel}:{thread_ts}` | list JSON turns | thread memory (question/answer) | last 50, 30 d |
| `wizard:audit` | stream | append-only audit records (hash-chained) | never trimmed |
| `wizard:audit:head` | string | hash of the last audit record | — |
| `wizard:audited:{job_id}:{kind}` | string | this job's audit record of this kind exists (one per job, even when two workers ran it) | 30 d |
| `wizard:worker:{name}` | string | worker heartbeat | 30 s |
| `wizard:pseudonyms` | hash token → trading identifier | reversible pseudonyms (never in prompts/logs) | 90 d |
| `wizard:freeze:manual` | string JSON `FreezeWindow` | the manual change freeze (`/wizard freeze on`) | until its end, else until `off` |
| `wizard:freeze:history` | list JSON `FreezeChange` | who turned manual freezes on/off, newest first | last 100 |
| `wizard:freeze:version` / `wizard:freeze:changed_at` | counter / epoch s | version of the latest manual change, and its signed request's time (an older request is stale) | — |
| `wizard:once:request:{sha}` | string | a signed state-changing request already applied (replays do nothing) | 10 min |
| `wizard:incident:seq` | counter | incident numbers (`INC-42`) | — |
| `wizard:incident:{id}` | string (JSON `Incident`) | one incident: alerts, counts, state, actions | 90 d |
| `wizard:incident:group:{digest}` | string | the current incident of a group key | 30 d |
| `wizard:incident:lock:{digest}` | string | per-group lock (redis-py `Lock`) | 10 s |
| `wizard:incident:{id}:silenced:{user}` | string (JSON silence ids) | this user already silenced this incident (one silence per click window) | the silence's duration |
| `wizard:incident:thread:{channel}:{ts}` | string | incident of a thread | 30 d |
| `wizard:incident:{id}:jobs` | hash job id → change | jobs already counted (reclaim-safe) | 7 d |
| `wizard:incident:{id}:outcome` | string (JSON `Outcome`) | how the incident ended | 365 d |
| `wizard:outcomes:service:{service}` / `wizard:outcomes:fp:{fp}` | list of incident ids | incident memory | last 20, 365 d |
| `wizard:incidents:open` | zset id → opened | open incidents | — |
| `wizard:incidents:dirty` | zset id → due time | summaries waiting for an update | — |
| `wizard:incidents:rendered` | hash id → time | last summary update (throttle) | — |
| `wizard:incidents:dirty_since` | hash id → time | when a waiting summary first became dirty (debounce cap) | — |
| `wizard:incidents:rendered_digest` | hash id → sha256 | what the summary in Slack shows (no-op updates skipped) | — |
| `wizard:llm:incident:{id}` / `wizard:llm:hour:{YYYYmmddHH}` | counter | LLM budget used | 7 d / 2 h |
| `wizard:llm:user:{user}:{YYYYmmddHH}` | counter | model calls one person's follow-ups and questions used this hour | 2 h |
| `wizard:summary:bucket` | hash tokens, ts, paused_until | the `chat.update` token bucket every replica draws from (Redis `TIME` clock; a 429 pauses it) | 1 h idle |
"""

from __future__ import annotations

PREFIX = "wizard"
JOBS_STREAM = f"{PREFIX}:jobs"
JOBS_GROUP = "wizard-workers"
JOBS_DEAD = f"{JOBS_STREAM}:dead"
ANALYSIS_STREAM = f"{PREFIX}:analyses"
ANALYSIS_GROUP = "wizard-analysts"
ANALYSIS_DEAD = f"{ANALYSIS_STREAM}:dead"
AUDIT_STREAM = f"{PREFIX}:audit"
AUDIT_HEAD = f"{PREFIX}:audit:head"
ALERTS_OPEN = f"{PREFIX}:alerts:open"
ALERTS_RECENT = f"{PREFIX}:alerts:recent"
PSEUDONYMS = f"{PREFIX}:pseudonyms"


def dedup_event(event_id: str) -> str:
    return f"{PREFIX}:dedup:event:{event_id}"


def dedup_message(channel: str, ts: str) -> str:
    return f"{PREFIX}:dedup:msg:{channel}:{ts}"


def dedup_hook(digest: str) -> str:
    return f"{PREFIX}:dedup:hook:{digest}"


def dedup_analysis(analysis_id: str) -> str:
    return f"{PREFIX}:dedup:analysis:{analysis_id}"


def job(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def alert(fingerprint: str) -> str:
    return f"{PREFIX}:alert:{fingerprint}"


def alerts_by_service(service: str) -> str:
    return f"{PREFIX}:alerts:service:{service}"


def deploys(service: str) -> str:
    return f"{PREFIX}:deploys:{service}"


def answers(fingerprint: str) -> str:
    return f"{PREFIX}:answers:{fingerprint}"


def thread(channel: str, thread_ts: str) -> str:
    return f"{PREFIX}:thread:{channel}:{thread_ts}"


def turns(channel: str, thread_ts: str) -> str:
    return f"{PREFIX}:turns:{channel}:{thread_ts}"


def worker(name: str) -> str:
    return f"{PREFIX}:worker:{name}"


def freeze_manual() -> str:
    return f"{PREFIX}:freeze:manual"


def freeze_history() -> str:
    return f"{PREFIX}:freeze:history"


def freeze_version() -> str:
    """Counter: every manual on/off gets the next version."""
    return f"{PREFIX}:freeze:version"


def freeze_changed_at() -> str:
    """Signed-request time (epoch s) of the manual change in force: older requests are stale."""
    return f"{PREFIX}:freeze:changed_at"


def request_once(digest: str) -> str:
    """A state-changing signed request already applied (its signature's SHA-256)."""
    return f"{PREFIX}:once:request:{digest}"


# --- incidents (bot/incidents/store.py) ---------------------------------------------------------
INCIDENT_SEQ = f"{PREFIX}:incident:seq"
INCIDENTS_OPEN = f"{PREFIX}:incidents:open"
INCIDENTS_DIRTY = f"{PREFIX}:incidents:dirty"
INCIDENTS_RENDERED = f"{PREFIX}:incidents:rendered"
INCIDENTS_DIRTY_SINCE = f"{PREFIX}:incidents:dirty_since"
INCIDENTS_RENDERED_DIGEST = f"{PREFIX}:incidents:rendered_digest"


def incident(incident_id: str) -> str:
    return f"{PREFIX}:incident:{incident_id}"


def incident_group(group_digest: str) -> str:
    return f"{PREFIX}:incident:group:{group_digest}"


def incident_lock(group_digest: str) -> str:
    return f"{PREFIX}:incident:lock:{group_digest}"


def incident_silenced_by(incident_id: str, user: str) -> str:
    return f"{PREFIX}:incident:{incident_id}:silenced:{user}"


def incident_thread(channel: str, thread_ts: str) -> str:
    return f"{PREFIX}:incident:thread:{channel}:{thread_ts}"


def incident_jobs(incident_id: str) -> str:
    return f"{PREFIX}:incident:{incident_id}:jobs"


def incident_outcome(incident_id: str) -> str:
    return f"{PREFIX}:incident:{incident_id}:outcome"


def outcomes_by_service(service: str) -> str:
    return f"{PREFIX}:outcomes:service:{service}"


def outcomes_by_fingerprint(fingerprint: str) -> str:
    return f"{PREFIX}:outcomes:fp:{fingerprint}"


def llm_budget_incident(incident_id: str) -> str:
    return f"{PREFIX}:llm:incident:{incident_id}"


def llm_budget_hour(bucket: str) -> str:
    return f"{PREFIX}:llm:hour:{bucket}"


def llm_budget_user(user: str, bucket: str) -> str:
    return f"{PREFIX}:llm:user:{user}:{bucket}"


SUMMARY_BUCKET = f"{PREFIX}:summary:bucket"


def audited(job_id: str, kind: str) -> str:
    return f"{PREFIX}:audited:{job_id}:{kind}"
