"""The training-data guard (OWASP ML02): provenance, data checks, poison detection, gate.

Names are imported lazily: ``import mlwarden.data`` (and the config that holds
:class:`DataSettings`) stays free of NumPy and scikit-learn until a check runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlwarden._lazy import lazy_names

_EXPORTS = {
    "DataCheck": "guard",
    "check_data": "guard",
    "DataSettings": "settings",
    "DataManifest": "provenance",
    "ManifestDiff": "provenance",
    "ManifestError": "provenance",
    "build_manifest": "provenance",
    "diff": "provenance",
    "read_manifest": "provenance",
    "sign_manifest": "provenance",
    "verify_manifest": "provenance",
    "PoisonOptions": "poison",
    "PoisonResult": "poison",
    "detect_poison": "poison",
    "GateResult": "gate",
    "retrain_gate": "gate",
    "run_checks": "checks",
    "model_representations": "representations",
    "Poisoned": "poisoning",
    "flip_labels": "poisoning",
    "plant_feature_trigger": "poisoning",
    "plant_patch_trigger": "poisoning",
}

__all__ = [
    "DataCheck",
    "DataManifest",
    "DataSettings",
    "GateResult",
    "ManifestDiff",
    "ManifestError",
    "PoisonOptions",
    "PoisonResult",
    "Poisoned",
    "build_manifest",
    "check_data",
    "detect_poison",
    "diff",
    "flip_labels",
    "model_representations",
    "plant_feature_trigger",
    "plant_patch_trigger",
    "read_manifest",
    "retrain_gate",
    "run_checks",
    "sign_manifest",
    "verify_manifest",
]

if TYPE_CHECKING:
    from mlwarden.data.checks import run_checks
    from mlwarden.data.gate import GateResult, retrain_gate
    from mlwarden.data.guard import DataCheck, check_data
    from mlwarden.data.poison import PoisonOptions, PoisonResult, detect_poison
    from mlwarden.data.poisoning import (
        Poisoned,
        flip_labels,
        plant_feature_trigger,
        plant_patch_trigger,
    )
    from mlwarden.data.provenance import (
        DataManifest,
        ManifestDiff,
        ManifestError,
        build_manifest,
        diff,
        read_manifest,
        sign_manifest,
        verify_manifest,
    )
    from mlwarden.data.representations import model_representations
    from mlwarden.data.settings import DataSettings


__getattr__ = lazy_names(__name__, {k: f"{__name__}.{v}" for k, v in _EXPORTS.items()})


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
