#!/usr/bin/env bash
# Create one virtual environment per peer scanner under benchmarks/.peers/<tool>/.
#
# The peers pin conflicting versions of numpy/h5py/etc., so each gets its own venv; the
# benchmark (benchmarks/scan_bench.py) calls them as subprocess CLIs from there. The folder is
# git-ignored. Re-running the script reuses an existing venv and only (re)installs the tool.
#
# Usage: benchmarks/setup_peers.sh [TOOL...]    (default: picklescan modelscan fickling;
#        the linters bandit, ruff and semgrep are set up by benchmarks/setup_lint_peers.sh)
set -uo pipefail

# shellcheck source=benchmarks/_peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/_peers.sh"
tools=("$@")
if [ "${#tools[@]}" -eq 0 ]; then
    tools=(picklescan modelscan fickling)
fi

# Nothing is pinned: each tool's latest release is what users run. Add a pin here, with the
# reason, only when a release fails to install or run. Extra packages, and why:
# - picklescan imports numpy lazily to read .npy/joblib files but does not declare it
#   (without it, `picklescan --path x.npy` dies with ModuleNotFoundError: numpy).
# - fickling 0.1.12 imports typing_extensions at start-up but does not declare it
#   (without it, every `fickling` command dies with ModuleNotFoundError).
# - modelscan pulls numpy itself; its Keras/TensorFlow scanners would need tensorflow,
#   which is left out (the benchmark inputs are pickle, PyTorch, NumPy and safetensors).
declare -A spec=(
    [picklescan]="picklescan numpy"
    [modelscan]="modelscan"
    [fickling]="fickling typing_extensions"
    [bandit]="bandit"
    [ruff]="ruff"
    [semgrep]="semgrep"
)

status=0
for tool in "${tools[@]}"; do
    if [ -z "${spec[$tool]:-}" ]; then
        echo "unknown peer: $tool (known: ${!spec[*]})" >&2
        status=1
        continue
    fi
    # shellcheck disable=SC2086  # spec may hold several requirement words on purpose
    peer_install "$tool" ${spec[$tool]} || status=1
done
exit "$status"
