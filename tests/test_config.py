"""pipeline.yaml loading: keys named in errors, environment overrides, secrets only from env or files."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.api.errors import ConfigError
from worker.config import load_config

ROOT = Path(__file__).resolve().parent.parent
SECRET = "zQ9-very-secret-key"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_pipeline_yaml_is_the_embedded_default() -> None:
    settings = load_config(ROOT / "pipeline.yaml", environ={})
    assert settings.queue.url == f"sqla+sqlite:///{ROOT / 'var' / 'queue.sqlite'}"
    assert settings.outcomes.sink == str(ROOT / "var" / "outcomes")
    assert settings.upstream.url == "local://"
    assert settings.ratelimit.backend == "local"


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_config(None, environ={})
    assert settings.source is None and settings.base_dir == tmp_path
    assert settings.outcomes.sink == str(tmp_path / "var" / "outcomes")


def test_unknown_key_is_named_with_what_is_allowed(tmp_path: Path) -> None:
    path = _write(tmp_path, "queue:\n  prefech: 4\n")
    with pytest.raises(ConfigError, match=r"pipeline.yaml: queue.prefech: unknown key \(allowed: .*prefetch"):
        load_config(path, environ={})


def test_bad_value_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "queue:\n  prefetch: 0\n")
    with pytest.raises(ConfigError, match=r"pipeline.yaml: queue.prefetch: must be >= 1 \(got 0\)"):
        load_config(path, environ={})
    with pytest.raises(ConfigError, match=r"ratelimit.backend: must be one of"):
        load_config(_write(tmp_path, "ratelimit:\n  backend: carrier-pigeon\n"), environ={})
    with pytest.raises(ConfigError, match=r"queue.url: unsupported queue URL scheme 'kafka'"):
        load_config(_write(tmp_path, "queue:\n  url: kafka://x\n"), environ={})


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(_write(tmp_path, "queue: [unclosed\n"), environ={})
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_config(tmp_path / "absent.yaml", environ={})


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "queue:\n  url: sqla+sqlite:///q.sqlite\nworker:\n  concurrency: 2\n")
    settings = load_config(path, environ={
        "CARDPIPE_QUEUE__URL": "amqp://u:p@rabbit:5672//",
        "CARDPIPE_WORKER__CONCURRENCY": "9",
        "CARDPIPE_STORAGE__S3__ENDPOINT_URL": "http://minio:9000",
        "CARDPIPE_QUEUE__TRANSPORT_OPTIONS": '{"region": "eu-west-1"}',
        "CARDPIPE_REQUIRE_SERVICES": "1",  # not a setting: no "__"
    })
    assert settings.queue.url == "amqp://u:p@rabbit:5672//"
    assert settings.worker.concurrency == 9
    assert settings.storage.s3.endpoint_url == "http://minio:9000"
    assert settings.queue.transport_options == {"region": "eu-west-1"}
    assert "u:***@rabbit" in settings.redacted()["queue"]["url"]


def test_environment_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"CARDPIPE_QUEUE__PREFETCH: queue.prefetch: must be >= 1"):
        load_config(None, environ={"CARDPIPE_QUEUE__PREFETCH": "0"})
    with pytest.raises(ConfigError, match=r"CARDPIPE_QUEUEE__URL: unknown section 'queuee'"):
        load_config(None, environ={"CARDPIPE_QUEUEE__URL": "x"})


def test_a_secret_in_the_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, f"upstream:\n  url: http://h/ocr/bankcard\n  secret_key: {SECRET}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})
    message = str(raised.value)
    assert "upstream.secret_key" in message and "CARDPIPE_UPSTREAM__SECRET_KEY" in message
    assert SECRET not in message


def test_secrets_from_environment_and_files_are_never_printed(tmp_path: Path) -> None:
    secret_file = tmp_path / "id.txt"
    secret_file.write_text("AKIDfromfile\n", encoding="utf-8")
    path = _write(tmp_path, "upstream:\n  url: http://h/ocr/bankcard\n  appid: '1250000000'\n"
                            "  secret_id_file: id.txt\n")
    settings = load_config(path, environ={"CARDPIPE_UPSTREAM__SECRET_KEY": SECRET})
    assert settings.upstream.secret_key.get_secret_value() == SECRET
    assert settings.upstream.secret_id.get_secret_value() == "AKIDfromfile"
    for shown in (repr(settings), str(settings), settings.model_dump_json(), str(settings.redacted())):
        assert SECRET not in shown and "AKIDfromfile" not in shown


def test_unreadable_secret_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"CARDPIPE_UPSTREAM__SECRET_KEY_FILE: upstream.secret_key_file: cannot read"):
        load_config(None, environ={"CARDPIPE_UPSTREAM__SECRET_KEY_FILE": str(tmp_path / "nope")})


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = tmp_path / "conf"
    config_dir.mkdir()
    path = _write(config_dir, "queue:\n  url: sqla+sqlite:///state/q.sqlite\noutcomes:\n  sink: out\n"
                              "storage:\n  local_roots: [images, /abs]\n")
    monkeypatch.chdir(tmp_path)
    settings = load_config(path, environ={})
    assert settings.queue.url == f"sqla+sqlite:///{config_dir / 'state' / 'q.sqlite'}"
    assert settings.outcomes.sink == str(config_dir / "out")
    assert settings.storage.local_roots == [config_dir / "images", Path("/abs")]
