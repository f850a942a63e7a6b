#!/usr/bin/env bash
# Create one virtual environment per peer linter under benchmarks/.peers/<tool>/ for
# benchmarks/lint_bench.py (bandit, ruff, semgrep). The folder is git-ignored; re-running
# reuses an existing venv and only (re)installs the tool.
#
# Usage: benchmarks/setup_lint_peers.sh [TOOL...]    (default: bandit ruff semgrep)
set -uo pipefail

# shellcheck source=benchmarks/_peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/_peers.sh"
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
    # shellcheck disable=SC2086  # spec may hold several requirement words on purpose
    peer_install "$tool" ${spec[$tool]} || status=1
done
exit "$status"
