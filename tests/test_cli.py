"""The command line as a new user meets it: every setting documented, quiet pipes, one log format."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from tests.test_run import ROOT, _env
from worker.config import Settings, _model_for
from worker.outcomes import open_outcomes
from worker.tasks import DeadLetter, Task, utc_now

_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<commented>#\s*)?(?P<key>[a-z_][a-z0-9_]*):(?:\s|$)")


def _setting_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, field in model.model_fields.items():
        nested = _model_for(field.annotation)
        here = (*prefix, name)
        paths.extend(_setting_paths(nested, here) if nested is not None else [here])
    return paths


def _documented_keys(text: str) -> dict[tuple[str, ...], str]:
    """Every key written in pipeline.yaml, set or commented out, with the comment that explains it."""
    keys: dict[tuple[str, ...], str] = {}
    stack: list[tuple[int, str]] = []
    previous_comment = ""
    for line in text.splitlines():
        match = _KEY_LINE.match(line)
        if match is None:
            stripped = line.strip()
            previous_comment = stripped if stripped.startswith("#") else ""
            continue
        indent = len(match["indent"])
        stack = [(i, k) for i, k in stack if i < indent]
        stack.append((indent, match["key"]))
        trailing = line[match.end():].partition("#")[2] if "#" in line[match.end():] else ""
        keys[tuple(k for _, k in stack)] = trailing.strip() or previous_comment
        previous_comment = ""
    return keys


def test_every_setting_is_in_pipeline_yaml_with_a_comment() -> None:
    documented = _documented_keys((ROOT / "pipeline.yaml").read_text(encoding="utf-8"))
    missing = [".".join(p) for p in _setting_paths(Settings) if p not in documented]
    assert not missing, f"settings missing from pipeline.yaml: {missing}"
    silent = [".".join(p) for p in _setting_paths(Settings) if not documented[p]]
    assert not silent, f"settings in pipeline.yaml without a comment: {silent}"


def test_pipeline_yaml_is_a_valid_config_with_every_commented_key_enabled(tmp_path: Path) -> None:
    """The commented-out examples are real keys with acceptable values (secrets aside: they are refused there)."""
    from worker.config import SECRET_KEYS, load_config

    lines = []
    for line in (ROOT / "pipeline.yaml").read_text(encoding="utf-8").splitlines():
        match = _KEY_LINE.match(line)
        if match and match["commented"] and match["key"] not in SECRET_KEYS and not match["key"].endswith("_file"):
            line = match["indent"] + line[match.end("commented"):]
        lines.append(line)
    config = tmp_path / "pipeline.yaml"
    config.write_text("\n".join(lines), encoding="utf-8")
    load_config(config)


def _write_dead_letters(tmp_path: Path, count: int) -> Path:
    config = tmp_path / "pipeline.yaml"
    config.write_text("queue:\n  url: sqla+sqlite:///var/queue.sqlite\noutcomes:\n  sink: ./var/outcomes\n")
    from worker.config import load_config

    store = open_outcomes(load_config(config).outcomes)
    now = utc_now()
    for index in range(count):
        task = Task.for_location(f"/data/card_{index:05d}.jpg")
        store.write_dead_letter(DeadLetter(task_id=task.id, task=task, code="-1102", reason="undecodable " * 20,
                                           attempts=1, first_attempt_at=now, last_attempt_at=now, worker="t"))
    return config


def test_piping_into_head_ends_quietly(tmp_path: Path) -> None:
    config = _write_dead_letters(tmp_path, 600)  # far more than a pipe buffer holds
    command = f"{sys.executable} -m worker --config {config} dlq list --json | head -n 1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120,
                          env=_env("local://"))
    assert json.loads(done.stdout)["code"] == "-1102"
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode in (0, 141)


def test_log_format_json_puts_every_logger_on_one_stream(tmp_path: Path) -> None:
    """cardpipe's own events and a library's stdlib records come out as JSON lines, masked alike."""
    script = (
        "import logging, structlog\n"
        "from worker.observability import configure_logging, get_logger\n"
        "configure_logging('INFO', log_format='json')\n"
        "get_logger('test').info('own.event', reason='card 6225760000001235')\n"
        "logging.getLogger('kombu.connection').warning('lost 6225760000001235 %s', 'again')\n"
        "logging.getLogger('httpx').info('HTTP Request: POST http://x/ocr/bankcard 200')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env=_env("local://"))
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["event"] for line in lines] == ["own.event", "lost 622576******1235 again"]
    assert lines[0]["component"] == "test" and lines[1]["component"] == "kombu.connection"
    assert {line["level"] for line in lines} == {"info", "warning"}
    assert all("timestamp" in line for line in lines)


def test_log_format_console_is_readable_lines(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "worker", "--log-format", "console", "--config",
                           str(_write_dead_letters(tmp_path, 0)), "worker", "--until-empty"],
                          capture_output=True, text=True, timeout=120, env=_env("local://"))
    assert done.returncode == 0, done.stderr
    assert "consumer.started" in done.stderr and not done.stderr.lstrip().startswith("{")


def test_log_lines_print_above_the_progress_bar_not_onto_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import io

    from rich.console import Console

    import worker.observability as observability
    from worker.progress import RunProgress, RunTally

    terminal = io.StringIO()
    console = Console(file=terminal, force_terminal=True, width=100)
    monkeypatch.setattr(observability, "stderr_console", lambda: console)
    monkeypatch.setattr("worker.progress.stderr_console", lambda: console)
    observability.configure_logging("INFO", log_format="console")
    tally = RunTally()
    with RunProgress(tally) as progress:
        progress.processing(10)
        tally.add("ok", "0")
        progress.update()
        observability.get_logger("test").warning("broker.lost", error="connection reset")
        tally.add("ok", "0")
        progress.update()
    ansi = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
    # As a terminal shows it: a carriage return (after which rich erases the line) starts the line afresh.
    lines = re.split(r"[\r\n]", ansi.sub("", terminal.getvalue()))
    logged = [line for line in lines if "broker.lost" in line]
    assert logged and all("━" not in line and "processing" not in line for line in logged), lines


def test_threads_per_process_share_the_cores_for_the_local_recognizer(monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import os

    monkeypatch.chdir(tmp_path)  # the built-in defaults, not a pipeline.yaml that happens to be here

    from worker.config import load_config
    from worker.jobs.consume import threads_per_process

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3}, raising=False)
    local = load_config(None, environ={})
    assert [threads_per_process(local, p) for p in (1, 2, 4, 8)] == [4, 2, 1, 1]
    chosen = load_config(None, environ={"CARDPIPE_WORKER__CONCURRENCY": "3"})
    assert threads_per_process(chosen, 2) == 3, "a configured concurrency is kept"
    http = load_config(None, environ={"CARDPIPE_UPSTREAM__URL": "http://api.example/ocr/bankcard"})
    assert threads_per_process(http, 2) == http.worker.concurrency == 4, "network-bound calls keep the default"
