"""Reading the configuration, and the recognize command's own modules, import no transport.

Why: every command reads pipeline.yaml first, and ``cardpipe recognize`` answers one image in a fresh process;
an import of kombu, boto3, httpx or starlette there is start-up time paid for code that never runs. This is a
property of the import graph (which modules end up loaded), not a timing, so it holds on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Libraries only transports, servers and clients need.
TRANSPORTS = ("kombu", "amqp", "boto3", "botocore", "httpx", "pycurl", "redis", "starlette", "uvicorn", "sqlalchemy",
              "psycopg")


def _loaded_after(statement: str) -> set[str]:
    """The top-level packages loaded in a fresh interpreter after running ``statement``."""
    return {name.split(".")[0] for name in _modules_loaded_after(statement)}


@pytest.mark.parametrize("statement", [
    "import worker.config",
    "from worker.config import load_config; load_config(None, environ={})",
    "import worker.cli",
    "import worker.commands.recognize",
])
def test_no_transport_is_imported(statement: str) -> None:
    loaded = _loaded_after(statement)
    assert not loaded & set(TRANSPORTS), f"{statement!r} imported {sorted(loaded & set(TRANSPORTS))}"


#: Modules of the pipeline's own machinery (the task models, the outcome stores, the retry policy) that reading
#: the configuration needs none of; ``cardpipe recognize`` keeps no outcome and retries nothing.
PIPELINE_MODULES = ("tenacity", "worker.tasks", "worker.outcomes.base", "worker.outcomes.local", "worker.retry")


def _modules_loaded_after(statement: str) -> set[str]:
    """Every module name loaded in a fresh interpreter after running ``statement``."""
    probe = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_recognize_reads_the_configuration_and_a_card_without_the_pipeline_modules(tmp_path: Path) -> None:
    from scripts.make_cards import generate

    card = tmp_path / generate(tmp_path, 1, "clean", 5150)[0]["file"]
    statement = ("import sys\nfrom worker.cli import main\n"
                 f"code = main(['--log-level', 'ERROR', 'recognize', {str(card)!r}])\n"
                 "assert code == 0, code")
    loaded = _modules_loaded_after(statement)
    assert "worker.recognizer.engine" in loaded  # the card was read: the models were loaded
    assert not loaded & set(PIPELINE_MODULES), sorted(loaded & set(PIPELINE_MODULES))
    assert not {m.split(".")[0] for m in loaded} & set(TRANSPORTS)


def test_the_pipeline_modules_are_still_where_the_pipeline_finds_them() -> None:
    loaded = _modules_loaded_after("from worker.outcomes import LocalOutcomeStore, OutcomeStore, OutcomeStoreError\n"
                                   "from worker.retry import RetrySettings, build_retrying\n"
                                   "from worker.outcomes.base import OutcomeStoreError as Same\n"
                                   "assert Same is OutcomeStoreError")
    assert set(PIPELINE_MODULES) <= loaded


def test_the_probe_sees_a_transport_when_one_is_imported() -> None:
    assert "kombu" in _loaded_after("import worker.queues")


def test_moved_settings_are_still_importable_where_they_were() -> None:
    from worker.consumer import WorkerSettings
    from worker.outcomes import OutcomeSettings, S3OutcomeStore
    from worker.outcomes.s3 import split_s3_url
    from worker.queues import QueueSettings

    assert WorkerSettings().concurrency >= 1
    assert QueueSettings(url="memory://").scheme == "memory"
    assert OutcomeSettings(sink="s3://bucket/prefix").is_s3
    assert split_s3_url("cos://b/p") == ("b", "p/")
    assert S3OutcomeStore.__name__ == "S3OutcomeStore"
