#!/usr/bin/env bash
# Create one virtual environment per peer linter under benchmarks/.peers/<tool>/ for
# benchmarks/lint_bench.py (bandit, ruff, semgrep). The folder is git-ignored; re-running
# reuses an existing venv and only (re)installs the tool.
#
# Usage: benchmarks/setup_lint_peers.sh [TOOL...]    (default: bandit ruff semgrep)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
peers_dir="$here/.peers"
python="${PYTHON:-python3}"
tools=("$@")
if [ "${#tools[@]}" -eq 0 ]; then
    tools=(bandit ruff semgrep)
fi

# Nothing is pinned: each tool's latest release is what users run.
declare -A spec=(
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
    venv="$peers_dir/$tool"
    echo "== $tool -> $venv"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv" || { echo "venv failed for $tool" >&2; status=1; continue; }
    fi
    "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    if "$venv/bin/python" -m pip install --quiet ${spec[$tool]}; then
        "$venv/bin/python" -m pip show "$tool" 2>/dev/null | sed -n 's/^Version: /   version: /p'
    else
        echo "install failed for $tool; the benchmark will report it as unavailable" >&2
        status=1
    fi
done
exit "$status"
