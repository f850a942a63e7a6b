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

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.peers/art"
python="${PYTHON:-python3}"
torch_version="${TORCH_VERSION:-2.13.0}"
# The benchmark hands scikit-learn models to ART as joblib files: same version as the project.
project_python="$here/../.venv/bin/python"
sklearn_version="${SKLEARN_VERSION:-$("$project_python" -c 'import sklearn; print(sklearn.__version__)' 2>/dev/null || true)}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet "torch==$torch_version"
"$venv/bin/python" -m pip install --quiet adversarial-robustness-toolbox packaging \
    "scikit-learn${sklearn_version:+==$sklearn_version}"
"$venv/bin/python" - <<'PY'
import art, torch, sklearn
print(f"ART {art.__version__}, torch {torch.__version__}, scikit-learn {sklearn.__version__}")
PY
