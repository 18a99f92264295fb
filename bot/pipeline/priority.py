"""Acks first: in one `wizard serve` process, the stage workers yield the CPU to the intake.

`--role all` runs the intake in a child process (bot/pipeline/intake_process.py) and the workers
in the parent. On a small machine a storm needs more CPU than there is — 500 events/s of acks
(~1.3 ms each) beside a thousand fast jobs — and at equal priority the kernel shared it out
evenly, so acks queued behind jobs: a fresh bot's storm acked at p99 0.2–0.6 s, one run in two
above the 100 ms target (bench/results/stages-storm.json). A job can wait a second; an event
Slack does not see acked within 3 s is retried, and an app that keeps failing is flagged.

So once the intake child is running, the parent's main thread — the workers' event loop, and
every thread it starts afterwards — drops to `WIZARD_WORKER_PRIORITY`:

- `idle` (default): SCHED_IDLE. The workers run whenever the intake leaves a core free, which is
  nearly always; the kernel also treats a core running only them as free, so a waking intake
  takes it at once. Under a sustained overload jobs wait in their stream (durably) until it
  passes. Inside a container the policy orders only the container's own processes.
- `low`: nice 10, a smaller share instead of none.
- `normal`: unchanged (a box shared with other busy services, or `--role intake/worker` apart).

Threads started before the drop keep their priority: the embedded Redis server and its
spawner thread, the intake child, the metrics pipe's reader. Linux only; elsewhere a warning.
"""

from __future__ import annotations

import os
from typing import Literal

import structlog

log = structlog.get_logger(__name__)

Priority = Literal["idle", "low", "normal"]
LOW_NICE = 10


def yield_to_intake(priority: Priority) -> None:
    """Lower the calling thread (and the threads it starts) to `priority`."""
    if priority == "normal":
        return
    try:
        if priority == "idle":
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        else:
            os.setpriority(os.PRIO_PROCESS, 0, LOW_NICE)  # Linux: pid 0 is this thread
    except (AttributeError, OSError) as exc:  # not Linux, or a seccomp profile refusing it
        log.warning("worker_priority_not_set", priority=priority, error=repr(exc)[:200])
        return
    log.info("worker_priority_set", priority=priority)
