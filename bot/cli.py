"""`wizard serve | check | parse | triage | demo | audit` — how operators and tests drive the bot.

Exit codes: 0 ok, 2 bad configuration or unreadable input (one line on stderr saying what to fix),
1 an unexpected failure (logged with its traceback), a failed `check`, or, for `audit verify`, a
broken or missing trail.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from bot.audit.cli import add_audit

if TYPE_CHECKING:
    from bot.settings import Settings

log = structlog.get_logger(__name__)


def load_settings() -> Settings:
    """bot.settings, imported only by the commands that need it: `--help` and `--version`
    stay fast because they import nothing heavy (pydantic, the SDKs)."""
    from bot.settings import load_settings as load

    return load()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("infrastructure-wizard")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


class InputError(Exception):
    """The input file could not be read as JSON."""


def _read_json(source: str) -> Any:
    try:
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror or exc}") from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{source} is not valid JSON: {exc}") from None


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def cmd_parse(args: argparse.Namespace) -> int:
    payload = _read_json(args.file)
    from bot.alerts.registry import parse_payload

    alerts = parse_payload(payload)
    _out(json.dumps([a.model_dump(mode="json") for a in alerts], indent=2))
    return 0


async def _triage(settings: Settings, payload: Any) -> str:
    from bot.alerts.registry import parse_payload
    from bot.audit import anchor
    from bot.audit.log import AuditLog
    from bot.components import build_wizard, secret_text
    from bot.context.pseudonyms import Pseudonyms
    from bot.context.store import ContextStore
    from bot.pipeline.incident_flow import most_severe as primary_alert
    from bot.render.markdown import triage_markdown
    from bot.runtime import open_redis

    alerts = parse_payload(payload)
    if not alerts:
        raise InputError("the payload holds no alert (a person's message or a Slack control event)")
    client, embedded = await open_redis(settings)
    try:
        pseudonyms = Pseudonyms(client)
        wizard = build_wizard(settings, pseudonyms)
        store = ContextStore(client)
        for alert in alerts:
            await store.record_alert(alert)
        primary = primary_alert(alerts)
        context = await store.build_context(primary, group=alerts)
        result = await wizard.triage(context)
        await AuditLog(
            client,
            settings.data_dir / "audit",
            key=anchor.key_for(secret_text(settings.audit_key), settings.data_dir),
            checkpoints=anchor.checkpoints_path(settings.data_dir),
        ).append(
            "triage_cli",
            fingerprint=primary.fingerprint,
            model=result.model,
            prompt_hash=result.prompt_hash,
            fallback=result.fallback,
            answer=result.answer.model_dump(mode="json"),
        )
        return await pseudonyms.reveal(triage_markdown(result, alert=primary))
    finally:
        await client.aclose()
        if embedded is not None:
            await embedded.stop()


def cmd_triage(args: argparse.Namespace) -> int:
    payload = _read_json(args.file)
    settings = load_settings()
    where = settings.data_dir.resolve()
    also = "; state in REDIS_URL" if settings.redis_url else f", embedded Redis in {where}/redis"
    sys.stderr.write(f"wizard: audit copy in {where}/audit{also} (WIZARD_DATA_DIR)\n")
    _out(asyncio.run(_triage(settings, payload)))
    return 0


DRAIN_MARGIN_S = 15.0
"""Beyond the LLM deadline, what a job in hand may still need (Slack posts and their retries)."""


async def _serve(
    settings: Settings,
    port: int,
    host: str,
    socket_mode: bool,
    drain_s: float | None = None,
    role: str = "all",
) -> None:
    """Serve until SIGTERM/SIGINT, then drain: intake closes first, jobs in hand get `drain_s`.

    The health port is served in Socket Mode too, so probes and Prometheus work in both modes.
    """
    from bot.app import build_runtime
    from bot.pipeline.intake_process import IntakeProcess
    from bot.pipeline.priority import yield_to_intake

    drain = drain_s if drain_s is not None else settings.llm_deadline_s + DRAIN_MARGIN_S
    if role not in ("intake", "fast"):  # only the analysis stage calls the model
        await verify_model(settings)
    # --role all: the stage workers in this process, intake in a child process
    # (bot/pipeline/intake_process.py), so acks never wait behind a job's CPU.
    runtime = await build_runtime(settings, role="worker" if role == "all" else role)
    intake: IntakeProcess | None = None
    intake_died = False
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if role == "all":
            intake = IntakeProcess(
                settings.model_copy(update={"redis_url": runtime.redis_url}),
                host=host,
                port=port,
                socket_mode=socket_mode,
                log_level=settings.log_level,
            )
            intake.start_process()  # on this (main) thread: PDEATHSIG follows the forking thread
            bound = await asyncio.to_thread(intake.wait_ready)
            yield_to_intake(settings.worker_priority)  # acks first (bot/pipeline/priority.py)
        else:
            bound = await runtime.start_http(host=host, port=port)
            if socket_mode and role == "intake":
                assert settings.slack_app_token is not None
                await runtime.start_socket_mode(settings.slack_app_token.get_secret_value())
        log.info("wizard_serving", port=bound, socket_mode=socket_mode, role=role)
        while not stop.is_set():
            if intake is not None:
                if not intake.alive:  # nobody acks any more: stop, and exit non-zero
                    log.error("intake_process_died")
                    intake_died = True
                    break
                intake.workers_alive(runtime.pool.alive)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        log.info("wizard_draining", drain_s=drain)
    finally:
        if intake is not None:  # intake closes first: Slack redelivers what it cannot hand over
            await asyncio.to_thread(intake.stop)
        await runtime.stop(drain_s=drain)
    if intake_died:
        raise SystemExit(1)


async def verify_model(settings: Settings) -> None:
    """WIZARD_MODEL must exist for this key before serving (exit 2 with one line if the API
    says it does not); an unreachable API is a warning, not a reason to stay down."""
    from bot.triage.providers import build_model_client, check_model

    client = build_model_client(settings)
    if client is not None:
        try:
            await check_model(client)
        finally:
            await client.close()


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.checks import preflight

    settings = load_settings()
    socket_mode = bool(args.socket or settings.slack_app_token is not None)
    settings.require_slack(socket_mode)
    # Redis, Slack (token, channels), data files: a failure is exit 2 with one line, in seconds.
    for check in asyncio.run(preflight(settings)):
        (log.warning if check.status == "warn" else log.info)(
            "preflight", check=check.name, status=check.status, detail=check.detail
        )
    asyncio.run(_serve(settings, args.port, args.host, socket_mode, args.drain_s, args.role))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """One line per check; exit 1 if any failed. Reads settings like `serve` does."""
    from bot.checks import Check, run_checks
    from bot.settings import ConfigError

    try:
        settings = load_settings()
    except ConfigError as exc:  # nothing else can be checked without settings
        _out(Check("settings", "fail", str(exc)).line)
        return 1
    socket_mode = bool(args.socket or settings.slack_app_token is not None)
    mode = "Socket Mode" if socket_mode else "HTTP mode (/slack/events)"
    try:
        settings.require_slack(socket_mode)
        first = Check("settings", "ok", f"valid, {mode}")
    except ConfigError as exc:  # a missing credential: report it, and check the rest anyway
        first = Check("settings", "fail", str(exc))
    _out(first.line)
    checks = asyncio.run(run_checks(settings))
    for check in checks:
        _out(check.line)
    return 1 if first.failed or any(check.failed for check in checks) else 0


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return seconds


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    settings = load_settings()
    return asyncio.run(run_demo(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wizard", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"wizard {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bot (HTTP, or Socket Mode with SLACK_APP_TOKEN)")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a container's service port
    serve.add_argument("--socket", action="store_true", help="force Socket Mode")
    serve.add_argument(
        "--drain-s",
        type=_seconds,
        default=None,
        help="on SIGTERM, how long jobs in hand may finish (default WIZARD_LLM_DEADLINE_S + 15)",
    )
    serve.add_argument(
        "--role",
        choices=("all", "intake", "worker", "fast", "analysis"),
        default="all",
        help="all (default); intake: only ack Slack and hooks; worker: only run jobs (fast: only "
        "the fast stage, analysis: only model calls). Split them when acks must stay fast while "
        "jobs run, or to scale analyses apart (see README, Scaling)",
    )
    serve.set_defaults(func=cmd_serve)
    check = sub.add_parser(
        "check", help="check settings, Redis, Slack, channels, model, data files, monitoring"
    )
    check.add_argument("--socket", action="store_true", help="check for Socket Mode")
    check.set_defaults(func=cmd_check)
    parse = sub.add_parser("parse", help="print the normalized alerts in a payload")
    parse.add_argument("file", help="JSON file, or - for stdin")
    parse.set_defaults(func=cmd_parse)
    triage = sub.add_parser("triage", help="triage one alert payload and print Markdown")
    triage.add_argument("file", help="JSON file, or - for stdin")
    triage.set_defaults(func=cmd_triage)
    demo = sub.add_parser("demo", help="run bundled alerts through the real pipeline locally")
    demo.add_argument("--verbose", action="store_true", help="also show the JSON logs")
    demo.set_defaults(func=cmd_demo)
    add_audit(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot.logs import configure_logging
    from bot.settings import ConfigError

    try:
        level = load_settings().log_level
    except ConfigError:
        level = "INFO"  # the command itself reports the bad setting
    if args.command in ("parse", "triage", "audit"):
        level = "WARNING"
    elif args.command == "check":
        level = "ERROR"  # the check lines are the output
    elif args.command == "demo" and not args.verbose:
        level = "ERROR"  # the demo's own narration is the output; --verbose shows the logs
    configure_logging(level)
    try:
        return int(args.func(args))
    except (ConfigError, InputError) as exc:
        sys.stderr.write(f"wizard: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception:
        log.exception("wizard_failed", command=args.command)
        return 1


if __name__ == "__main__":
    sys.exit(main())
