"""Deploy events from CI/CD, whatever tool sends them, as one `Deploy`.

Deploy history is the only source of rollback targets, so every pipeline should be able to
report to `/hooks/deploy` without a translation service in between. `parse_deploy_payload` takes
our own shape or one of three common CI/CD notification shapes (GitHub deployment_status, an
Argo CD notification carrying the Application, a Spinnaker echo event) and maps it to `Deploy`.
Pure: no I/O, no clock; every rejection is a `ValueError` with a one-line reason the sender can
act on. Events that are not a finished, successful deploy raise `DeployIgnored` (a ValueError):
the hook acknowledges them without recording anything, so senders do not retry them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from bot.models import Deploy
from bot.triage.facts import safe_version
from bot.triage.versions import version_tokens

SHORT_SHA = 12


class DeployIgnored(ValueError):
    """A well-formed event that is not a completed, successful deploy (pending, failed…)."""


def _get(data: Any, *path: str) -> Any:
    """`data[a][b]…` or None, without caring which level is missing or not a mapping."""
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _first(*values: Any) -> str | None:
    for value in values:
        if (text := _text(value)) is not None:
            return text
    return None


def _epoch_ms(value: Any) -> datetime | None:
    """Spinnaker timestamps are epoch milliseconds (numbers or numeric strings)."""
    try:
        millis = float(value)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def _validated(shape: str, fields: dict[str, Any]) -> Deploy:
    """`Deploy` from mapped fields; the first problem as one line naming the shape and field."""
    missing = [name for name in ("service", "version", "at") if fields.get(name) in (None, "")]
    if missing:
        raise ValueError(f"{shape}: cannot find {', '.join(missing)} in the payload")
    try:
        deploy = Deploy.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ValueError(f"{shape}: {where}: {first['msg']}") from None
    for name in ("version", "previous_version"):
        value = getattr(deploy, name)
        if value is not None and safe_version(value) is None:
            # versions reach the model's trusted facts and rollback commands: one strict token
            raise ValueError(
                f"{shape}: {name} must be one token of letters, digits and ._+:@- "
                "(at most 64 characters)"
            )
    if deploy.at.tzinfo is None:  # CI without a zone means UTC; comparisons must not raise
        deploy = deploy.model_copy(update={"at": deploy.at.replace(tzinfo=UTC)})
    return deploy


# --- the shapes ----------------------------------------------------------------------------------
def _ours(payload: Mapping[str, Any]) -> Deploy:
    return _validated("deploy", dict(payload))


def _github(payload: Mapping[str, Any]) -> Deploy:
    """A GitHub `deployment_status` event (as a workflow step posts it, with our bearer token).

    Our fields may ride in `deployment.payload` (service, version, previous_version, strategy,
    revision); otherwise the repository name is the service and a version-like ref (a tag) or
    the short commit SHA is the version.
    """
    status = _get(payload, "deployment_status")
    deployment = _get(payload, "deployment") or {}
    if not isinstance(status, Mapping):
        raise ValueError("github: deployment_status must be an object")
    state = _text(status.get("state"))
    if state != "success":
        raise DeployIgnored(f"github: deployment_status state {state!r} is not a finished deploy")
    extra = deployment.get("payload") if isinstance(deployment, Mapping) else None
    if isinstance(extra, str):  # the REST API accepts the payload as a JSON string
        try:
            extra = json.loads(extra)
        except ValueError:
            extra = None
    extra = extra if isinstance(extra, Mapping) else {}
    ref = _text(_get(deployment, "ref"))
    sha = _text(_get(deployment, "sha"))
    version = _first(
        extra.get("version"),
        ref if ref and version_tokens(ref) == [ref] else None,
        sha[:SHORT_SHA] if sha else None,
    )
    return _validated(
        "github",
        {
            "service": _first(extra.get("service"), _get(payload, "repository", "name")),
            "version": version,
            "previous_version": _first(extra.get("previous_version")),
            "environment": _first(status.get("environment"), _get(deployment, "environment")),
            "actor": _first(
                _get(status, "creator", "login"),
                _get(deployment, "creator", "login"),
                _get(payload, "sender", "login"),
            ),
            "at": _first(status.get("updated_at"), status.get("created_at")),
            "strategy": _first(extra.get("strategy")),
            "revision": _first(extra.get("revision")),
        },
    )


def _argocd(payload: Mapping[str, Any]) -> Deploy:
    """An Argo CD notification whose webhook template sends `{"app": {{toJson .app}}}`.

    The version is the synced revision (Git SHA, or chart version for Helm repositories); the
    previous one and the rollback id come from `status.history` (what `argocd app rollback`
    takes).
    """
    app = payload["app"]
    phase = _text(_get(app, "status", "operationState", "phase"))
    if phase is not None and phase != "Succeeded":
        raise DeployIgnored(f"argocd: operation phase {phase!r} is not a finished deploy")
    history = _get(app, "status", "history")
    entries = sorted(
        (h for h in history if isinstance(h, Mapping)) if isinstance(history, list) else [],
        key=lambda h: int(h["id"]) if isinstance(h.get("id"), int) else -1,
    )
    version = _first(
        _get(app, "status", "sync", "revision"),
        _get(app, "status", "operationState", "syncResult", "revision"),
        entries[-1].get("revision") if entries else None,
    )
    current = next((h for h in reversed(entries) if _text(h.get("revision")) == version), None)
    before = entries[: entries.index(current)] if current is not None else entries[:-1]
    previous = next(
        (_text(h.get("revision")) for h in reversed(before) if _text(h.get("revision"))), None
    )
    initiated = _get(app, "status", "operationState", "operation", "initiatedBy") or {}
    automated = isinstance(initiated, Mapping) and initiated.get("automated") is True
    labels = _get(app, "metadata", "labels") or {}
    return _validated(
        "argocd",
        {
            "service": _first(
                _get(labels, "app.kubernetes.io/name"), _get(app, "metadata", "name")
            ),
            "version": version,
            "previous_version": previous if previous != version else None,
            "environment": _first(_get(labels, "environment"), _get(labels, "env")),
            "actor": _first(_get(initiated, "username"), "argocd-automated" if automated else None),
            "at": _first(
                _get(app, "status", "operationState", "finishedAt"),
                current.get("deployedAt") if current is not None else None,
            ),
            "strategy": "argocd",
            "revision": _first(current.get("id")) if current is not None else None,
        },
    )


def _spinnaker(payload: Mapping[str, Any]) -> Deploy:
    """A Spinnaker echo event (`details` + `content.execution`) for a finished pipeline.

    Our fields may be pipeline parameters (version, previous_version, environment, strategy,
    revision); otherwise the version is the first trigger artifact's version.
    """
    details = payload["details"]
    execution = _get(payload, "content", "execution") or {}
    kind = _text(_get(details, "type")) or ""
    status = _text(_get(execution, "status"))
    if not kind.endswith(":complete") or status not in (None, "SUCCEEDED"):
        raise DeployIgnored(
            f"spinnaker: event {kind or '?'!r} with status {status!r} is not a finished deploy"
        )
    params = _get(execution, "trigger", "parameters") or {}
    artifacts = _get(execution, "trigger", "artifacts")
    artifact_version = next(
        (
            _text(a.get("version"))
            for a in (artifacts if isinstance(artifacts, list) else [])
            if isinstance(a, Mapping) and _text(a.get("version"))
        ),
        None,
    )
    at = _epoch_ms(_get(execution, "endTime")) or _epoch_ms(_get(details, "created"))
    return _validated(
        "spinnaker",
        {
            "service": _first(_get(details, "application"), _get(execution, "application")),
            "version": _first(_get(params, "version"), artifact_version),
            "previous_version": _first(_get(params, "previous_version")),
            "environment": _first(_get(params, "environment")),
            "actor": _first(
                _get(execution, "authentication", "user"), _get(execution, "trigger", "user")
            ),
            "at": at,
            "strategy": _first(_get(params, "strategy")),
            "revision": _first(_get(params, "revision")),
        },
    )


def parse_deploy_payload(payload: object) -> Deploy:
    """One `Deploy` from our shape or a GitHub / Argo CD / Spinnaker notification.

    Raises `DeployIgnored` for events that are not a successful, finished deploy and
    `ValueError` (one line: shape, field, problem) for anything it cannot map.
    """
    if not isinstance(payload, Mapping):
        raise ValueError("deploy: the body must be a JSON object")
    if "deployment_status" in payload:
        return _github(payload)
    if isinstance(payload.get("app"), Mapping) and "metadata" in payload["app"]:
        return _argocd(payload)
    if isinstance(payload.get("details"), Mapping) and "content" in payload:
        return _spinnaker(payload)
    if "service" in payload or "version" in payload:
        return _ours(payload)
    raise ValueError(
        "deploy: unrecognised body; send {service, version, at, previous_version?, "
        "environment?, actor?, strategy?, revision?}, a GitHub deployment_status event, an "
        'Argo CD notification {"app": …} or a Spinnaker echo event {details, content}'
    )
