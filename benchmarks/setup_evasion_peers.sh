#!/usr/bin/env bash
# Create the venv of the evasion benchmark's peer, ART (adversarial-robustness-toolbox), under
# benchmarks/.peers/art/. The folder is git-ignored; re-running reuses the venv.
#
# Order matters: torch is installed FIRST at the project's CPU version, so that ART's
# dependency resolution finds it satisfied and does not pull a multi-GB CUDA build. ART imports
# `packaging` without declaring it, so it is installed explicitly.
#
# Usage: benchmarks/setup_evasion_peers.sh
set -euo pipefail

# shellcheck source=benchmarks/_peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/_peers.sh"
torch_version="${TORCH_VERSION:-2.13.0}"
# The benchmark hands scikit-learn models to ART as joblib files: same version as the project.
project_python="$peers_dir/../../.venv/bin/python"
sklearn_version="${SKLEARN_VERSION:-$("$project_python" -c 'import sklearn; print(sklearn.__version__)' 2>/dev/null || true)}"

venv="$(peer_venv art)"
peer_install art "torch==$torch_version"
peer_install art adversarial-robustness-toolbox packaging \
    "scikit-learn${sklearn_version:+==$sklearn_version}"
"$venv/bin/python" - <<'PY'
import art, torch, sklearn
print(f"ART {art.__version__}, torch {torch.__version__}, scikit-learn {sklearn.__version__}")
PY
