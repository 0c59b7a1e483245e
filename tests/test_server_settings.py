"""ServeSettings and credential loading: every malformed entry is named without echoing its secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from worker.api.errors import ConfigError
from worker.api.legacy.signing import Credential
from worker.api.server import create_app
from worker.api.server.settings import CREDENTIALS_ENV, ServeSettings, load_credentials


def test_environment_and_file_are_merged(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("# appid:secretid:secretkey\n\n300001:AKIDfile:key:with:colons\n", encoding="utf-8")
    environ = {CREDENTIALS_ENV: "1252821871:AKIDone:k1, 200001:AKIDtwo:k2"}
    found = load_credentials(ServeSettings(credentials_file=path), environ)
    assert found == [Credential("1252821871", "AKIDone", "k1"), Credential("200001", "AKIDtwo", "k2"),
                     Credential("300001", "AKIDfile", "key:with:colons")]


def test_no_credentials_is_an_empty_list() -> None:
    assert load_credentials(ServeSettings(), {}) == []
    assert load_credentials(ServeSettings(), {CREDENTIALS_ENV: "  "}) == []


@pytest.mark.parametrize(("value", "named"), [
    ("1252821871:AKIDone:k1,broken-entry-s3cret", "entry 2"),
    ("1252821871::s3cret", "entry 1: secretid is empty"),
    ("1252821871:AKIDone:", "entry 1: secretkey is empty"),
    ("1252821871:AKIDone:k1,,", "entry 2"),
])
def test_malformed_environment_entries_are_named_not_echoed(value: str, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_credentials(ServeSettings(), {CREDENTIALS_ENV: value})
    assert named in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_malformed_file_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "credentials"
    path.write_text("1:AKIDa:ka\nonly-two:s3cret\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2") as caught:
        load_credentials(ServeSettings(credentials_file=path), {})
    assert "s3cret" not in str(caught.value)


def test_unreadable_file_and_conflicting_secret_ids(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_credentials(ServeSettings(credentials_file=tmp_path / "missing"), {})
    with pytest.raises(ConfigError, match="AKIDsame"):
        load_credentials(ServeSettings(), {CREDENTIALS_ENV: "1:AKIDsame:k1,2:AKIDsame:k2"})


def test_settings_refuse_unknown_keys_and_impossible_values() -> None:
    with pytest.raises(ValidationError):
        ServeSettings.model_validate({"prot": 8080})
    with pytest.raises(ValidationError):
        ServeSettings(max_images=0)
    assert ServeSettings(pool_size=0).effective_pool_size >= 1
    assert "hunter2" not in repr(Credential("1", "AKID", "hunter2"))


def test_an_app_without_credentials_is_refused() -> None:
    with pytest.raises(ConfigError, match=CREDENTIALS_ENV):
        create_app(ServeSettings(), [])
