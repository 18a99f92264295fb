"""The deployment files say what the code accepts: every variable they set is a real setting,
every command line parses with the real CLI, probes hit the real routes, and nothing runs as root.

The Helm chart is rendered by the real Helm SDK (v4, `helm-python-sdk`), offline, so template
errors, `required`/`fail` guards and value plumbing are tested, not just the YAML around them.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from pydantic import SecretStr

from bot.cli import DRAIN_MARGIN_S, build_parser
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "infrastructure-wizard"
ALIASES = {field.alias or name for name, field in Settings.model_fields.items()}
SECRET_KEYS = {
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "ANTHROPIC_API_KEY",
    "WIZARD_HOOK_TOKEN",
    "REDIS_URL",
}
BASE_VALUES: dict[str, Any] = {"existingSecret": "wizard-secrets"}


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _render(values: dict[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Render the chart; returns the objects by kind."""
    chart = helm.Chart.load(str(CHART))
    manifests = chart.render(values={**BASE_VALUES, **(values or {})}, name="prod", namespace="ops")
    objects: dict[str, list[dict[str, Any]]] = {}
    for name, text in manifests.items():
        if name.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                objects.setdefault(doc["kind"], []).append(doc)
    return objects


def _container(objects: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    (deployment,) = objects["Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container["env"]}


def _settings_from(container: dict[str, Any]) -> Settings:
    """Build the real Settings from the rendered env, secrets filled with plausible values."""
    fake = {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_APP_TOKEN": "xapp-1",
        "SLACK_SIGNING_SECRET": "s",
        "ANTHROPIC_API_KEY": "k",
        "WIZARD_HOOK_TOKEN": "h",
        "REDIS_URL": "redis://redis:6379/0",
    }
    values: dict[str, Any] = {}
    for name, entry in _env(container).items():
        raw = (
            entry["value"] if "value" in entry else fake[entry["valueFrom"]["secretKeyRef"]["key"]]
        )
        values[name] = SecretStr(raw) if name in SECRET_KEYS - {"REDIS_URL"} else raw
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


# --- Docker --------------------------------------------------------------------------------------


def _final_stage(dockerfile: str) -> list[str]:
    lines = [line.strip() for line in dockerfile.replace("\\\n", " ").splitlines()]
    froms = [i for i, line in enumerate(lines) if line.upper().startswith("FROM ")]
    return [line for line in lines[froms[-1] :] if line and not line.startswith("#")]


def test_dockerfile_final_stage_is_small_non_root_and_serves() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = [line for line in text.splitlines() if line.upper().startswith("FROM ")]
    assert len(stages) == 2 and " AS build" in stages[0]  # build stage, then a fresh runtime stage
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"python:3\.12\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base[1])
    final = _final_stage(text)
    body = "\n".join(final).lower()
    for tool in ("gcc", "g++", "build-essential", "make ", "apt-get install", "pip install"):
        assert tool not in body, f"{tool!r} in the runtime stage"
    assert "copy --from=build /opt/venv /opt/venv" in body
    user = next(line for line in final if line.upper().startswith("USER "))
    uid = user.split()[1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric, so runAsNonRoot can verify it
    health = next(line for line in final if line.upper().startswith("HEALTHCHECK "))
    assert "/healthz" in health
    cmd = next(line for line in final if line.upper().startswith("CMD "))
    argv = yaml.safe_load(cmd[4:])  # exec form, a JSON list
    assert argv[:2] == ["wizard", "serve"]
    build_parser().parse_args(argv[1:])  # the real CLI accepts it
    envs = dict(
        re.findall(
            r"\b([A-Z][A-Z0-9_]+)=(\S+)",
            "\n".join(line for line in final if line.startswith("ENV")),
        )
    )
    assert {k for k in envs if k.startswith("WIZARD_")} <= ALIASES
    assert envs["WIZARD_DATA_DIR"] == "/data"


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_context() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"  # an allow-list: anything new is excluded by default
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "README.md",
        "bot",
        "prompts",
        "runbooks",
        "requirements/runtime.lock",  # the image installs exactly the lock
        "catalog.yaml",  # example catalog and freeze calendar, overridable by a mount
        "freezes.yaml",
    }
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (ROOT / "Dockerfile").read_text(), re.M)
    for sources in copied:
        assert set(sources.split()) <= allowed, sources


# --- Compose -------------------------------------------------------------------------------------


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, duration
    return int(match[1]) * (60 if match[2] == "m" else 1)


def test_compose_runs_the_bot_beside_a_persistent_healthy_redis() -> None:
    compose = _yaml(ROOT / "docker-compose.yaml")
    services = compose["services"]
    assert set(services) == {"bot", "redis"}
    redis, bot = services["redis"], services["bot"]

    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"  # AOF: jobs and audit survive
    volume, target = redis["volumes"][0].split(":")
    assert target == "/data" and volume in compose["volumes"]  # named volume, not the container
    assert "ping" in redis["healthcheck"]["test"]

    assert bot["build"] == "."
    assert bot["env_file"] == ".env"
    assert re.fullmatch(r"redis://redis:6379(/\d+)?", bot["environment"]["REDIS_URL"])
    assert bot["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert "3000:3000" in bot["ports"]
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert bot["user"].split(":")[0] not in ("0", "root")
    assert bot["read_only"] is True and "/tmp" in bot["tmpfs"]
    assert bot["volumes"][0].split(":")[1] == "/data"
    # long enough for the default drain (deadline + margin) before Docker's SIGKILL
    deadline = Settings.model_fields["llm_deadline_s"].default
    assert _seconds(bot["stop_grace_period"]) > deadline + DRAIN_MARGIN_S


def test_every_variable_compose_and_the_env_example_set_is_a_setting() -> None:
    compose = _yaml(ROOT / "docker-compose.yaml")
    names = set(compose["services"]["bot"]["environment"])
    example = (ROOT / "deploy" / "env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.M))
    assert {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"} <= listed
    assert names | listed <= ALIASES
    # the example's active (uncommented) lines load as real settings in Socket Mode, the mode
    # slack-app-manifest.yaml is set for (one default for both files)
    active = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.+)$", example, re.M))
    settings = Settings(_env_file=None, **active)  # type: ignore[call-arg]
    settings.require_slack(socket_mode=settings.slack_app_token is not None)
    assert settings.slack_app_token is not None
    manifest = _yaml(ROOT / "slack-app-manifest.yaml")
    assert manifest["settings"]["socket_mode_enabled"] is True


# --- Helm: the files -----------------------------------------------------------------------------


def test_chart_metadata_and_values_defaults() -> None:
    chart = _yaml(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2" and chart["name"] == CHART.name
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    values = _yaml(CHART / "values.yaml")
    assert values["replicaCount"] == 2
    assert values["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    assert values["podSecurityContext"]["runAsUser"] != 0
    assert values["securityContext"]["readOnlyRootFilesystem"] is True
    assert values["securityContext"]["allowPrivilegeEscalation"] is False
    assert values["probes"]["liveness"]["path"] == "/healthz"
    assert values["probes"]["readiness"]["path"] == "/readyz"
    assert set(values["config"]) <= ALIASES
    assert values["terminationGracePeriodSeconds"] > (
        values["drainSeconds"] + values["preStopSleepSeconds"]
    )
    assert values["serviceMonitor"]["enabled"] is False  # needs the Prometheus Operator's CRD


def test_every_variable_named_in_the_templates_is_a_setting() -> None:
    templates = [*(CHART / "templates").glob("*.yaml"), *(CHART / "templates").glob("*.tpl")]
    text = "\n".join(p.read_text() for p in templates)
    env_names = set(re.findall(r"- name: ([A-Z][A-Z0-9_]+)\b", text))
    secret_keys = set(re.findall(r"key: ([A-Z][A-Z0-9_]+)\b", text))
    assert env_names >= {"SLACK_BOT_TOKEN", "REDIS_URL", "WIZARD_CATALOG_PATH"}
    assert env_names | secret_keys <= ALIASES
    assert secret_keys <= SECRET_KEYS


# --- Helm: rendered ------------------------------------------------------------------------------


def test_rendered_http_deployment() -> None:
    objects = _render()
    assert set(objects) == {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"}
    (deployment,) = objects["Deployment"]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    container = _container(objects)
    assert spec["replicas"] == 2
    assert spec["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]

    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/data"]] and "emptyDir" in volumes[mounts["/tmp"]]

    port = container["ports"][0]
    assert port["name"] == "http"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    (service,) = objects["Service"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == spec["selector"]["matchLabels"]
    (pdb,) = objects["PodDisruptionBudget"]
    assert pdb["spec"]["selector"]["matchLabels"] == spec["selector"]["matchLabels"]

    # the command line is one the real CLI accepts, and drains within the grace period
    assert container["command"] == ["wizard"]
    args = build_parser().parse_args(container["args"])
    assert args.command == "serve" and not args.socket and args.port == port["containerPort"]
    assert args.drain_s + 5 < pod["terminationGracePeriodSeconds"]
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]

    env = _env(container)
    assert set(env) <= ALIASES
    refs = {n: e["valueFrom"]["secretKeyRef"] for n, e in env.items() if "valueFrom" in e}
    assert {r["name"] for r in refs.values()} == {"wizard-secrets"}
    assert {n for n, r in refs.items() if not r.get("optional")} == {
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "REDIS_URL",  # redis.url empty: from the Secret, never an embedded per-pod Redis
    }
    assert "SLACK_APP_TOKEN" not in env  # HTTP mode cannot flip to Socket Mode by accident
    assert all(e.get("value") != "" for e in env.values())  # "" would be a (bad) value
    settings = _settings_from(container)
    settings.require_slack(socket_mode=False)
    assert settings.data_dir == Path("/data") and settings.workers == 16


def test_rendered_socket_mode_with_metrics_files_and_external_redis() -> None:
    objects = _render(
        {
            "slack": {"mode": "socket"},
            "replicaCount": 3,
            "redis": {"url": "redis+sentinel://s-0:26379,s-1:26379/wizard/0"},
            "serviceMonitor": {"enabled": True},
            "files": {"catalog": "services: []\n", "freezes": "freezes: []\n"},
            "config": {"WIZARD_ALERT_CHANNELS": "C1 C2", "WIZARD_WORKERS": 8},
        }
    )
    container = _container(objects)
    args = build_parser().parse_args(container["args"])
    assert args.socket is True
    env = _env(container)
    assert env["SLACK_APP_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "SLACK_APP_TOKEN"
    assert "SLACK_SIGNING_SECRET" not in env
    assert env["REDIS_URL"]["value"] == "redis+sentinel://s-0:26379,s-1:26379/wizard/0"
    settings = _settings_from(container)
    settings.require_slack(socket_mode=True)
    assert settings.alert_channels == frozenset({"C1", "C2"}) and settings.workers == 8
    assert objects["Deployment"][0]["spec"]["replicas"] == 3

    # health and metrics are on the port in Socket Mode too; Prometheus scrapes /metrics there
    (monitor,) = objects["ServiceMonitor"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics" and endpoint["port"] == "http"
    (service,) = objects["Service"]
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == ["ops"]

    # catalog.yaml / freezes.yaml: a ConfigMap mounted read-only where the env vars point
    (config_map,) = objects["ConfigMap"]
    assert config_map["data"] == {"catalog.yaml": "services: []\n", "freezes.yaml": "freezes: []\n"}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "files")
    assert mount["readOnly"] is True
    assert env["WIZARD_CATALOG_PATH"]["value"] == f"{mount['mountPath']}/catalog.yaml"
    assert env["WIZARD_FREEZES_PATH"]["value"] == f"{mount['mountPath']}/freezes.yaml"
    assert settings.catalog_path == Path(mount["mountPath"]) / "catalog.yaml"
    pod = objects["Deployment"][0]["spec"]["template"]
    assert "checksum/files" in pod["metadata"]["annotations"]  # a new file rolls the pods
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "files")
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]


def test_ingress_exposes_slack_events_and_never_metrics() -> None:
    objects = _render({"ingress": {"enabled": True, "host": "wizard.example.com"}})
    (ingress,) = objects["Ingress"]
    paths = {p["path"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert paths == {"/slack/events"}
    with_hooks = _render({"ingress": {"enabled": True, "hooks": True}})
    paths = {
        p["path"] for r in with_hooks["Ingress"][0]["spec"]["rules"] for p in r["http"]["paths"]
    }
    assert paths == {"/slack/events", "/hooks"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"existingSecret": ""}, "existingSecret is required"),
        ({"slack": {"mode": "websocket"}}, "at '/slack/mode': value must be one of"),  # schema
        ({"replicaCount": "two"}, "at '/replicaCount'"),
        ({"replicas": 3}, "additional properties 'replicas' not allowed"),  # a typo'd key
        ({"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}, "maxReplicas"),
        ({"drainSeconds": 58}, "terminationGracePeriodSeconds must exceed"),
        (
            {"slack": {"mode": "socket"}, "ingress": {"enabled": True}},
            "Socket Mode needs no ingress",
        ),
    ],
)
def test_chart_refuses_values_that_would_deploy_a_broken_bot(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmError, match=re.escape(message)):
        _render(values)


def test_chart_lints_clean() -> None:
    report = helm.lint(str(CHART), dict(BASE_VALUES), strict=True)
    assert report["errors"] == []
    assert all(m["severity"] <= 1 for m in report["messages"]), report["messages"]  # info only


def test_readme_commands_match_the_files() -> None:
    """The README's deploy commands name files and flags that exist."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Running in production") :]
    assert "deploy/helm/infrastructure-wizard" in section and CHART.is_dir()
    assert "deploy/env.example" in section and (ROOT / "deploy" / "env.example").is_file()
    commands = re.findall(r"`(wizard serve[^`]*)`", readme)
    assert any("--drain-s" in c for c in commands) and len(commands) >= 3
    for command in commands:
        usage = command.replace("[", "").replace("]", "").replace(" N", " 30")
        usage = re.sub(r"(\w+)(?:\\\|\w+)+", r"\1", usage)  # a|b|c: the first alternative
        build_parser().parse_args(shlex.split(usage)[1:])


# --- Helm: intake/worker split, autoscaling, network policy --------------------------------------


def _by_name(objects: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects[kind]}


def test_split_renders_an_intake_and_a_worker_deployment_the_cli_accepts() -> None:
    objects = _render({"split": {"enabled": True, "worker": {"replicaCount": 4}}})
    deployments = _by_name(objects, "Deployment")
    assert set(deployments) == {
        "prod-infrastructure-wizard-intake",
        "prod-infrastructure-wizard-worker",
    }
    for role in ("intake", "worker"):
        spec = deployments[f"prod-infrastructure-wizard-{role}"]["spec"]
        (container,) = spec["template"]["spec"]["containers"]
        args = build_parser().parse_args(container["args"])
        assert args.role == role
        labels = spec["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/component"] == role
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        _settings_from(container)  # the env is valid settings for both
    assert deployments["prod-infrastructure-wizard-worker"]["spec"]["replicas"] == 4
    assert deployments["prod-infrastructure-wizard-intake"]["spec"]["replicas"] == 2
    (service,) = objects["Service"]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "intake"


@pytest.mark.parametrize("split", [False, True])
def test_autoscaling_on_cpu_or_queue_targets_the_workers(split: bool) -> None:
    objects = _render({"split": {"enabled": split}, "autoscaling": {"enabled": True}})
    (hpa,) = objects["HorizontalPodAutoscaler"]
    target = hpa["spec"]["scaleTargetRef"]["name"]
    scaled = _by_name(objects, "Deployment")[target]
    assert "replicas" not in scaled["spec"]  # left to the HPA, not fought over by helm upgrade
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    if split:
        assert target.endswith("-worker")
        assert _by_name(objects, "Deployment")[target.replace("worker", "intake")]["spec"][
            "replicas"
        ]
    from bot import metrics

    queue = _render({"autoscaling": {"enabled": True, "metric": "queue"}})
    (metric,) = queue["HorizontalPodAutoscaler"][0]["spec"]["metrics"]
    assert metric["external"]["metric"]["name"] == "wizard_queue_waiting"  # the default
    for name in ("wizard_queue_waiting", "wizard_analysis_waiting"):  # the two the values name
        on = {"enabled": True, "metric": "queue", "queue": {"metricName": name}}
        (metric,) = _render({"autoscaling": on})["HorizontalPodAutoscaler"][0]["spec"]["metrics"]
        assert metric["external"]["metric"]["name"] == name
        assert name in metrics.REGISTRY._names_to_collectors  # a real gauge /metrics serves


def test_network_policy_opens_the_port_and_only_the_egress_the_bot_needs() -> None:
    (policy,) = _render()["NetworkPolicy"]
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = spec["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    ports = {(p["port"], p["protocol"]) for rule in spec["egress"] for p in rule["ports"]}
    assert ports == {
        (53, "UDP"), (53, "TCP"), (6379, "TCP"), (26379, "TCP"),
        (9090, "TCP"), (9093, "TCP"), (3100, "TCP"), (443, "TCP"),
    }  # fmt: skip
    peers = [{"namespaceSelector": {"matchLabels": {"name": "ingress-nginx"}}}]
    (narrow,) = _render({"networkPolicy": {"ingressFrom": peers}})["NetworkPolicy"]
    assert narrow["spec"]["ingress"][0]["from"] == peers
    assert "NetworkPolicy" not in _render({"networkPolicy": {"enabled": False}})


def test_catalog_and_freezes_ship_as_a_config_map_the_bot_reads(tmp_path: Path) -> None:
    catalog, freezes = (ROOT / "catalog.yaml").read_text(), (ROOT / "freezes.yaml").read_text()
    objects = _render({"files": {"catalog": catalog, "freezes": freezes}})
    (config_map,) = objects["ConfigMap"]
    assert config_map["data"] == {"catalog.yaml": catalog, "freezes.yaml": freezes}
    env = _env(_container(objects))
    mount = {m["mountPath"]: m for m in _container(objects)["volumeMounts"]}
    assert env["WIZARD_CATALOG_PATH"]["value"].startswith(next(p for p in mount if "wizard" in p))
    from bot.catalog import ServiceCatalog
    from bot.freeze import FreezeCalendar

    for name, text in config_map["data"].items():
        (tmp_path / name).write_text(text)
    assert ServiceCatalog.load(tmp_path / "catalog.yaml").all()  # what the pod will load
    FreezeCalendar.load(tmp_path / "freezes.yaml")
