"""infra/ is for users' machines (no Docker engine runs here): check it by parsing, and check that every
setting it passes to cardpipe is one cardpipe accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_cli import _setting_paths
from worker.config import SECRET_KEYS, Settings, load_config
from worker.metrics import metric_names

INFRA = Path(__file__).resolve().parent.parent / "infra"


def _yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def test_dockerfile_builds_a_non_root_cardpipe_image() -> None:
    lines = [line.strip() for line in (INFRA / "Dockerfile").read_text().splitlines()]
    instructions = [line.split()[0] for line in lines if line and not line.startswith("#")]
    assert instructions.count("FROM") == 2, "a build stage and a slim runtime stage"
    assert any(line.startswith("USER ") and "root" not in line for line in lines)
    assert 'ENTRYPOINT ["cardpipe"]' in lines
    copied = {line.split()[1] for line in lines if line.startswith("COPY") and "--from" not in line}
    for source in copied - {"--chown=cardpipe"}:
        assert (INFRA.parent / source).exists(), f"Dockerfile copies {source}, which the repository lacks"


def test_compose_services_are_complete() -> None:
    compose = yaml.safe_load((INFRA / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"rabbitmq", "redis", "minio", "worker", "server"} <= services.keys()
    for name, service in services.items():
        assert "image" in service or "build" in service, f"service {name} has neither image nor build"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert "healthcheck" in services[dependency], f"{dependency} is waited on but has no healthcheck"
    for secret in services["server"].get("secrets", []):
        assert secret in compose["secrets"]


def test_k8s_manifests_hold_the_expected_objects() -> None:
    objects = {(d["kind"], d["metadata"]["name"]) for d in _k8s_documents()}
    assert objects == {
        ("ConfigMap", "cardpipe-config"), ("Deployment", "cardpipe-worker"), ("Deployment", "cardpipe-server"),
        ("Service", "cardpipe-server"), ("ScaledObject", "cardpipe-worker"),
        ("TriggerAuthentication", "cardpipe-rabbitmq"),
    }


def test_k8s_selectors_match_their_pod_labels() -> None:
    documents = _k8s_documents()
    for doc in documents:
        assert doc.get("apiVersion") and doc.get("metadata", {}).get("name")
        if doc["kind"] == "Deployment":
            selector = doc["spec"]["selector"]["matchLabels"]
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), doc["metadata"]["name"]
            for container in doc["spec"]["template"]["spec"]["containers"]:
                assert container["image"].startswith("cardpipe")
                assert "limits" in container.get("resources", {})


def _k8s_documents() -> list[dict[str, Any]]:
    return [d for f in sorted((INFRA / "k8s").glob("*.yaml")) for d in _yaml_documents(f)]


def _containers() -> list[dict[str, Any]]:
    deployments = [d for d in _k8s_documents() if d["kind"] == "Deployment"]
    return [c for d in deployments for c in d["spec"]["template"]["spec"]["containers"]]


def _cardpipe_env() -> dict[str, str | None]:
    """Every CARDPIPE_* variable infra sets, with its literal value (None: taken from a Secret)."""
    names: dict[str, str | None] = {}
    compose = yaml.safe_load((INFRA / "docker-compose.yml").read_text(encoding="utf-8"))
    for service in compose["services"].values():
        names |= {k: str(v) for k, v in (service.get("environment") or {}).items() if k.startswith("CARDPIPE_")}
    for container in _containers():
        names |= {e["name"]: e.get("value") for e in container.get("env", []) if e["name"].startswith("CARDPIPE_")}
    return names


def _placeholder(name: str, tmp_path: Path) -> str:
    """A value of the right shape for a variable whose value lives in a Secret."""
    if name.endswith("_FILE"):
        secret = tmp_path / name.lower()
        secret.write_text("1250000000:AKIDexample:examplesecret\n")
        return str(secret)
    return {"CARDPIPE_QUEUE__URL": "amqp://u:p@rabbitmq:5672//"}.get(name, "x")


def test_every_cardpipe_variable_names_a_real_setting() -> None:
    settings_paths = {"__".join(p).upper() for p in _setting_paths(Settings)}
    secret_files = {"__".join((*p[:-1], p[-1] + "_file")).upper() for p in _setting_paths(Settings)
                    if p[-1] in SECRET_KEYS}
    for name in _cardpipe_env():
        key = name.removeprefix("CARDPIPE_")
        assert key in settings_paths | secret_files, f"{name} is not a cardpipe setting"


def test_every_setting_infra_passes_is_one_cardpipe_accepts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in _cardpipe_env().items():
        monkeypatch.setenv(name, value if value is not None else _placeholder(name, tmp_path))
    load_config(None)


def test_k8s_configmap_is_a_valid_pipeline_config(tmp_path: Path) -> None:
    for doc in _yaml_documents(INFRA / "k8s" / "worker.yaml"):
        if doc["kind"] == "ConfigMap":
            path = tmp_path / "pipeline.yaml"
            path.write_text(doc["data"]["pipeline.yaml"], encoding="utf-8")
            load_config(path)


def _worker_config(tmp_path: Path) -> Settings:
    for doc in _yaml_documents(INFRA / "k8s" / "worker.yaml"):
        if doc["kind"] == "ConfigMap":
            path = tmp_path / "pipeline.yaml"
            path.write_text(doc["data"]["pipeline.yaml"], encoding="utf-8")
            return load_config(path, environ={})
    raise AssertionError("worker.yaml has no ConfigMap")


def _deployment(name: str) -> dict[str, Any]:
    return next(d for d in _k8s_documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == name)


def test_keda_scales_the_worker_deployment_on_the_task_queue(tmp_path: Path) -> None:
    documents = {(d["kind"], d["metadata"]["name"]): d for d in _k8s_documents()}
    scaled = documents["ScaledObject", "cardpipe-worker"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert ("Deployment", scaled["spec"]["scaleTargetRef"]["name"]) in documents
    assert 1 <= scaled["spec"]["minReplicaCount"] < scaled["spec"]["maxReplicaCount"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq" and trigger["metadata"]["mode"] == "QueueLength"
    assert int(trigger["metadata"]["value"]) > 0
    assert trigger["metadata"]["queueName"] == _worker_config(tmp_path).queue.tasks
    auth = documents["TriggerAuthentication", trigger["authenticationRef"]["name"]]
    (host,) = [ref for ref in auth["spec"]["secretTargetRef"] if ref["parameter"] == "host"]
    # KEDA reads the queue depth from the broker the workers consume: the same Secret key.
    worker_env = {e["name"]: e for c in _deployment("cardpipe-worker")["spec"]["template"]["spec"]["containers"]
                  for e in c.get("env", [])}
    assert worker_env["CARDPIPE_QUEUE__URL"]["valueFrom"]["secretKeyRef"] == {"name": host["name"],
                                                                              "key": host["key"]}


def test_prometheus_annotations_point_at_each_metrics_endpoint(tmp_path: Path) -> None:
    ports = {"cardpipe-worker": _worker_config(tmp_path).worker.metrics_port, "cardpipe-server": 8080}
    for name, port in ports.items():
        template = _deployment(name)["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/path"] == "/metrics"
        assert int(annotations["prometheus.io/port"]) == port
        exposed = {p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])}
        assert port in exposed, f"{name}: the scraped port is not a container port"


def test_workers_get_time_to_drain_before_the_kill(tmp_path: Path) -> None:
    grace = _deployment("cardpipe-worker")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > _worker_config(tmp_path).worker.shutdown_grace_s


# --- the Grafana dashboard ----------------------------------------------------------------------------------------

_PROMQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_PROMQL_SELECTOR_BODY = re.compile(r"\{[^}]*\}")
_PROMQL_RANGE = re.compile(r"\[[^\]]*\]")
_PROMQL_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_PROMQL_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*(?![A-Za-z0-9_:(])(?!\s*\()")
_PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
                    "group_right", "inf", "nan"}


def promql_metric_names(expression: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords, labels and durations left out)."""
    text = _PROMQL_STRING.sub('""', expression)
    text = _PROMQL_SELECTOR_BODY.sub("{}", text)
    text = _PROMQL_RANGE.sub("", text)
    text = _PROMQL_GROUPING.sub("", text)
    text = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", "", text)
    return {name for name in _PROMQL_IDENTIFIER.findall(text) if name.lower() not in _PROMQL_KEYWORDS}


def test_promql_metric_names_are_found_and_nothing_else() -> None:
    expression = ('histogram_quantile(0.95, sum by (le, code) (rate(cardpipe_x_bucket{code!="0",a=~"b|c"}[5m]))) '
                  "/ on(pod) group_left sum without (le) (up) or vector(1) > bool 0.5 and time() - typo_total")
    assert promql_metric_names(expression) == {"cardpipe_x_bucket", "up", "typo_total"}


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads((INFRA / "grafana" / "cardpipe-workers.json").read_text(encoding="utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_dashboard_reads_only_metrics_the_worker_exports() -> None:
    exported = metric_names()
    expressions = _dashboard_expressions()
    assert expressions
    for expression in expressions:
        names = promql_metric_names(expression)
        assert names, expression
        assert names <= exported, f"{expression}: {sorted(names - exported)} are not exported by the worker"


def test_dashboard_answers_the_operators_questions() -> None:
    joined = "\n".join(_dashboard_expressions())
    for needed in ("cardpipe_tasks_total", "cardpipe_upstream_calls_total", "cardpipe_ratelimit_rate",
                   "cardpipe_upstream_latency_seconds_bucket", "cardpipe_in_flight_tasks", "cardpipe_circuit_open",
                   "cardpipe_queue_messages", 'cardpipe_tasks_total{status="dead"}', "cardpipe_limiter_wait_seconds"):
        assert needed in joined, f"no panel reads {needed}"
