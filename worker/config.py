"""pipeline.yaml -> typed settings, with environment overrides and secrets kept out of the file.

Layers, later wins: built-in defaults, then ``pipeline.yaml``, then ``CARDPIPE_<SECTION>__<KEY>`` environment
variables (nested keys with more ``__``: ``CARDPIPE_STORAGE__S3__ENDPOINT_URL``). Every section forbids unknown
keys, so a typo is an error that names the key rather than a setting silently ignored.

Secrets (the API's SecretId/SecretKey, storage keys, passwords) are refused in pipeline.yaml: they come from
the environment (``CARDPIPE_UPSTREAM__SECRET_ID``) or from a file named by ``<key>_file`` (in the file or the
environment), and are held as ``SecretStr`` so that no dump or log prints them.

Relative paths (the embedded queue's database, the outcome directory, ``*_file`` and other path settings)
resolve against the directory of pipeline.yaml, or the working directory when there is no file.

>>> settings = load_config(None, environ={"CARDPIPE_QUEUE__PREFETCH": "16"})
>>> settings.queue.prefetch
16
>>> load_config(None, environ={"CARDPIPE_QUEUE__PREFETCH": "0"})
Traceback (most recent call last):
...
worker.api.errors.ConfigError: CARDPIPE_QUEUE__PREFETCH: queue.prefetch: must be >= 1 (got 0)
"""

from __future__ import annotations

import json
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError

from worker.api.errors import ConfigError
from worker.api.server.settings import ServeSettings
from worker.outcomes.settings import OutcomeSettings
from worker.queue_settings import QueueSettings
from worker.ratelimit.settings import RateLimitSettings
from worker.recognizer.settings import RecognizerSettings
from worker.retry_settings import RetrySettings
from worker.storage.settings import StorageSettings
from worker.upstreams.settings import UpstreamSettings
from worker.worker_settings import WorkerSettings

ENV_PREFIX = "CARDPIPE_"
DEFAULT_CONFIG_NAME = "pipeline.yaml"

#: Keys whose values are secrets: refused in pipeline.yaml, accepted from the environment or ``<key>_file``.
SECRET_KEYS = frozenset({
    "secret_id", "secret_key", "access_key_id", "secret_access_key", "aws_access_key_id",
    "aws_secret_access_key", "session_token", "aws_session_token", "password", "token", "card_number_key",
})


class Settings(BaseModel):
    """Every section of pipeline.yaml. Build with :func:`load_config`."""

    model_config = ConfigDict(extra="forbid")

    queue: QueueSettings = Field(default_factory=QueueSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    ratelimit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    outcomes: OutcomeSettings = Field(default_factory=OutcomeSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    recognizer: RecognizerSettings = Field(default_factory=RecognizerSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)

    _source: Path | None = PrivateAttr(default=None)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def source(self) -> Path | None:
        """The pipeline.yaml these settings came from (None: built-in defaults)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The directory relative paths were resolved against."""
        return self._base_dir

    def redacted(self) -> dict[str, Any]:
        """The settings as plain data for display: secrets starred, passwords in URLs hidden."""
        return _redact(self.model_dump(mode="json"))


def load_config(path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Load settings: ``path``, else ./pipeline.yaml when present, else the defaults; then the environment.

    Parameters:
        path: an explicit pipeline.yaml (it must exist).
        environ: the environment to read overrides from (default ``os.environ``).

    Raises:
        ConfigError: the file is missing or not YAML, a key is unknown, a value is invalid, or a secret is
            written in the file. The message names the key (and the variable, for an override).
    """
    env = os.environ if environ is None else environ
    source: Path | None = None
    if path is not None:
        source = Path(path)
        if not source.is_file():
            raise ConfigError(f"{source}: no such configuration file")
    elif Path(DEFAULT_CONFIG_NAME).is_file():
        source = Path(DEFAULT_CONFIG_NAME)
    label = str(source) if source is not None else DEFAULT_CONFIG_NAME
    data = _read_yaml(source) if source is not None else {}
    _refuse_secrets_in_file(data, label)
    origins: dict[tuple[str, ...], str] = {}
    _apply_environment(data, env, origins)
    base_dir = (source.resolve().parent if source is not None else Path.cwd())
    _read_secret_files(data, Settings, (), base_dir, origins, label)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origins, label)) from None
    settings._source = source.resolve() if source is not None else None
    settings._base_dir = base_dir
    _resolve_paths(settings, base_dir)
    return settings


# --- reading ------------------------------------------------------------------------------------------------------

def _read_yaml(source: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def _refuse_secrets_in_file(data: Any, label: str, path: tuple[str, ...] = ()) -> None:
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        here = (*path, str(key))
        if str(key) in SECRET_KEYS and value not in (None, ""):
            env_name = ENV_PREFIX + "__".join(here).upper()
            raise ConfigError(f"{label}: {'.'.join(here)}: secrets are not read from the configuration file; "
                              f"set {env_name} or {'.'.join(here)}_file (a path to a file holding it)")
        _refuse_secrets_in_file(value, label, here)


def _apply_environment(data: dict[str, Any], env: Mapping[str, str], origins: dict[tuple[str, ...], str]) -> None:
    sections = set(Settings.model_fields)
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__")]
        if not all(parts):
            raise ConfigError(f"{name}: empty key segment in the variable name")
        if parts[0] not in sections:
            raise ConfigError(f"{name}: unknown section {parts[0]!r} (allowed: {', '.join(sorted(sections))})")
        target = data
        for index, part in enumerate(parts[:-1]):
            node = target.get(part)
            if node is None:
                node = target[part] = {}
            if not isinstance(node, dict):
                raise ConfigError(f"{name}: {'.'.join(parts[: index + 1])} is not a section")
            target = node
        target[parts[-1]] = _env_value(env[name])
        origins[tuple(parts)] = name


def _env_value(raw: str) -> Any:
    """Environment values are strings; JSON objects and lists (``{...}``, ``[...]``) are parsed as such."""
    text = raw.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return raw
    return raw


def _model_for(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``Model``, ``Model | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_for(arg)
            if found is not None:
                return found
    return None


def _read_secret_files(data: dict[str, Any], model: type[BaseModel], path: tuple[str, ...], base_dir: Path,
                       origins: dict[tuple[str, ...], str], label: str) -> None:
    """Replace ``<secret>_file: PATH`` by the file's content, unless the model itself takes that ``_file`` key."""
    for key in list(data):
        value = data[key]
        field = model.model_fields.get(key)
        if isinstance(value, dict) and field is not None:
            nested = _model_for(field.annotation)
            if nested is not None:
                _read_secret_files(value, nested, (*path, key), base_dir, origins, label)
            continue
        if not key.endswith("_file") or key in model.model_fields:
            continue
        secret_name = key[: -len("_file")]
        if secret_name not in SECRET_KEYS or secret_name not in model.model_fields:
            continue
        where = origins.get((*path, key), label)
        file_path = Path(str(value)).expanduser()
        if not file_path.is_absolute():
            file_path = base_dir / file_path
        try:
            secret = file_path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{where}: {'.'.join((*path, key))}: cannot read {file_path}: "
                              f"{exc.strerror or exc}") from None
        if not secret:
            raise ConfigError(f"{where}: {'.'.join((*path, key))}: {file_path} is empty")
        del data[key]
        data[secret_name] = secret


# --- errors -------------------------------------------------------------------------------------------------------

def _describe(exc: ValidationError, origins: dict[tuple[str, ...], str], label: str) -> str:
    lines = []
    for error in exc.errors():
        loc = tuple(str(p) for p in error["loc"])
        origin = next((origins[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in origins), label)
        lines.append(f"{origin}: {'.'.join(loc) or '(top level)'}: {_explain(error)}")
    return "\n".join(lines)


def _explain(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    shown = "***" if any(str(p) in SECRET_KEYS for p in error["loc"]) else repr(got) \
        if not isinstance(got, int | float) or isinstance(got, bool) else got
    if kind == "extra_forbidden":
        parent = _model_at(tuple(str(p) for p in error["loc"][:-1]))
        return f"unknown key (allowed: {_allowed_keys(parent)})" if parent else "unknown key"
    messages = {
        "greater_than_equal": f"must be >= {ctx.get('ge')}",
        "greater_than": f"must be > {ctx.get('gt')}",
        "less_than_equal": f"must be <= {ctx.get('le')}",
        "less_than": f"must be < {ctx.get('lt')}",
    }
    if kind in messages:
        return f"{messages[kind]} (got {shown})"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')} (got {shown})"
    if kind in {"missing"}:
        return "required"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{message} (got {shown})"


def _model_at(loc: tuple[str, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Settings
    for part in loc:
        field = model.model_fields.get(part) if model else None
        model = _model_for(field.annotation) if field else None
    return model


def _allowed_keys(model: type[BaseModel]) -> str:
    return ", ".join(sorted(model.model_fields))


# --- paths and redaction ------------------------------------------------------------------------------------------

def _resolve_paths(settings: Settings, base_dir: Path) -> None:
    """Make relative paths absolute against ``base_dir`` so that child processes and other cwds agree."""
    queue = settings.queue
    if queue.is_embedded:
        db = queue.url.removeprefix("sqla+sqlite:///")
        if db and db != ":memory:" and not Path(db).is_absolute():
            queue.url = "sqla+sqlite:///" + str(base_dir / db)
    sink = settings.outcomes.sink
    if settings.outcomes.is_local:
        local = Path(sink.removeprefix("file://")).expanduser()
        settings.outcomes.sink = str(local if local.is_absolute() else base_dir / local)
    _resolve_model_paths(settings, base_dir)


def _resolve_model_paths(model: BaseModel, base_dir: Path) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            _resolve_model_paths(value, base_dir)
        elif isinstance(value, Path) and not value.is_absolute():
            object.__setattr__(model, name, base_dir / value.expanduser())
        elif isinstance(value, list) and value and all(isinstance(v, Path) for v in value):
            object.__setattr__(model, name, [v if v.is_absolute() else base_dir / v.expanduser() for v in value])


def _redact(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, key) for v in value]
    if key in SECRET_KEYS and value:
        return "**********"
    if isinstance(value, str) and "://" in value and "@" in value.partition("://")[2].partition("/")[0]:
        scheme, _, rest = value.partition("://")
        userinfo, _, host = rest.partition("@")
        user = userinfo.partition(":")[0]
        return f"{scheme}://{user}:***@{host}" if ":" in userinfo else value
    return value


__all__ = ["SECRET_KEYS", "ConfigError", "SecretStr", "Settings", "load_config"]
