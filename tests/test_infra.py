"""infra/ is for users' machines (no Docker engine runs here): check it by parsing, and check that every
setting it passes to cardpipe is one cardpipe accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from worker.config import load_config

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


def test_k8s_selectors_match_their_pod_labels() -> None:
    documents = [d for f in sorted((INFRA / "k8s").glob("*.yaml")) for d in _yaml_documents(f)]
    kinds = {d["kind"] for d in documents}
    assert {"Deployment", "Service", "ConfigMap"} <= kinds
    for doc in documents:
        assert doc.get("apiVersion") and doc.get("metadata", {}).get("name")
        if doc["kind"] == "Deployment":
            selector = doc["spec"]["selector"]["matchLabels"]
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), doc["metadata"]["name"]
            for container in doc["spec"]["template"]["spec"]["containers"]:
                assert container["image"].startswith("cardpipe")
                assert "limits" in container.get("resources", {})


def _cardpipe_env_names() -> set[str]:
    names: set[str] = set()
    compose = yaml.safe_load((INFRA / "docker-compose.yml").read_text(encoding="utf-8"))
    for service in compose["services"].values():
        names |= {k for k in (service.get("environment") or {}) if k.startswith("CARDPIPE_")}
    for path in (INFRA / "k8s").glob("*.yaml"):
        for doc in _yaml_documents(path):
            if doc["kind"] != "Deployment":
                continue
            for container in doc["spec"]["template"]["spec"]["containers"]:
                names |= {e["name"] for e in container.get("env", []) if e["name"].startswith("CARDPIPE_")}
    return names


def test_every_setting_infra_passes_is_one_cardpipe_accepts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _cardpipe_env_names():
        value = {"RATE": "10", "BACKEND": "redis"}.get(name.rsplit("__", 1)[-1], "x")
        if name.endswith("_FILE"):
            secret = tmp_path / name.lower()
            secret.write_text("1250000000:AKIDexample:examplesecret\n")
            value = str(secret)
        elif name.endswith("_URL") or name.endswith("__SINK"):
            value = {"CARDPIPE_QUEUE__URL": "amqp://u:p@h:5672//"}.get(name, "redis://h:6379/0")
            if name.endswith("__SINK"):
                value = "s3://bucket/prefix/"
            if name.endswith("ENDPOINT_URL"):
                value = "http://minio:9000"
        monkeypatch.setenv(name, value)
    load_config(None)


def test_k8s_configmap_is_a_valid_pipeline_config(tmp_path: Path) -> None:
    for doc in _yaml_documents(INFRA / "k8s" / "worker.yaml"):
        if doc["kind"] == "ConfigMap":
            path = tmp_path / "pipeline.yaml"
            path.write_text(doc["data"]["pipeline.yaml"], encoding="utf-8")
            load_config(path)
