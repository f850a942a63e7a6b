"""The probe registry: built-ins, entry points, duplicate ids, unknown ids, bad plug-ins."""

from __future__ import annotations

from typing import Any

import pytest

from mlwarden.attacks import registry
from mlwarden.attacks.registry import AuditData, Probe, ProbeResult, all_probes, get_probe
from mlwarden.errors import PluginError, UsageError
from mlwarden.models.base import Capability
from mlwarden.risks import RiskId


class _FakeEntryPoint:
    def __init__(self, module: str, attr: str) -> None:
        self.module, self.attr = module, attr


class ExtraProbe:
    id = "extra"
    risk = RiskId.ML03
    requires = frozenset({Capability.PREDICT})

    def run(self, model: Any, data: AuditData, config: Any, progress: Any) -> ProbeResult:
        return ProbeResult(metrics={"extra.ran": True})


class DuplicateProbe(ExtraProbe):
    id = "evasion"


class NotAProbe:
    id = "broken"


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> list[_FakeEntryPoint]:
    found: list[_FakeEntryPoint] = []
    monkeypatch.setattr(
        registry, "entry_points", lambda group: found if group == "mlwarden.attacks" else []
    )
    all_probes.cache_clear()
    yield found
    all_probes.cache_clear()


def test_builtin_evasion_probe(plugins: list[_FakeEntryPoint]) -> None:
    probe = get_probe("evasion")
    assert isinstance(probe, Probe)
    assert probe.risk is RiskId.ML01 and Capability.PREDICT in probe.requires
    with pytest.raises(UsageError, match=r"available: .*evasion"):
        get_probe("nope")


def test_entry_point_probes_load_and_duplicates_fail(plugins: list[_FakeEntryPoint]) -> None:
    plugins.append(_FakeEntryPoint(__name__, "ExtraProbe"))
    assert {"evasion", "extra"} <= set(all_probes())
    all_probes.cache_clear()
    plugins.append(_FakeEntryPoint(__name__, "DuplicateProbe"))
    with pytest.raises(PluginError, match="duplicate audit probe id 'evasion'"):
        all_probes()


@pytest.mark.parametrize(("module", "attr"), [(__name__, "NotAProbe"), ("no.such.module", "X")])
def test_broken_plugins_fail_clearly(
    plugins: list[_FakeEntryPoint], module: str, attr: str
) -> None:
    plugins.append(_FakeEntryPoint(module, attr))
    with pytest.raises(PluginError):
        all_probes()
