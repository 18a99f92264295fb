"""`wizard demo`: the real pipeline, end to end, on this machine, with no credentials.

It starts the embedded Redis, a local Slack sandbox (a Web API server the real `AsyncWebClient`
talks to), and the bot's own HTTP server; then it sends the bundled alerts as signed Slack events
and Alertmanager/deploy webhooks — the same path production traffic takes — waits for the workers
to drain the queue, and prints every thread as Slack would show it. With `ANTHROPIC_API_KEY` set
the wizard is the real model; without it, the runbook fallback answers.
"""

from bot.demo.run import run_demo

__all__ = ["run_demo"]
