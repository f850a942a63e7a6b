"""The commented default config is valid TOML and lists every section, nested ones included."""

from __future__ import annotations

import sys

import pytest

from mlwarden.config import Settings, default_config_text, load_settings
from mlwarden.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_default_config_is_valid_toml_with_every_section() -> None:
    text = default_config_text()
    parsed = tomllib.loads(text)  # valid TOML; every value is commented out
    assert parsed["scan"] == {}
    assert parsed["audit"]["evasion"] == {}
    for section in Settings.model_fields:
        assert f"[{section}]" in text
    assert "[audit.evasion]" in text


def test_uncommented_defaults_load_back(tmp_path: pytest.TempPathFactory) -> None:
    lines = [
        line[2:] if line.startswith("# fail_on") else line
        for line in default_config_text().splitlines()
    ]
    path = tmp_path / "mlwarden.toml"  # type: ignore[operator]
    path.write_text("\n".join(lines))
    assert load_settings(path).scan.fail_on.value == "medium"


def test_unknown_key_is_refused(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "mlwarden.toml"  # type: ignore[operator]
    path.write_text("[scan]\nfail_onn = 'high'\n")
    with pytest.raises(ConfigError, match="fail_onn"):
        load_settings(path)
