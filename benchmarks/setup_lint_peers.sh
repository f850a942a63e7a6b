#!/usr/bin/env bash
# Create one virtual environment per peer linter under benchmarks/.peers/<tool>/ for
# benchmarks/lint_bench.py (bandit, ruff, semgrep; nothing pinned). Same machinery as the
# scanner peers: benchmarks/setup_peers.sh.
#
# Usage: benchmarks/setup_lint_peers.sh [TOOL...]    (default: bandit ruff semgrep)
set -uo pipefail

if [ "$#" -eq 0 ]; then
    set -- bandit ruff semgrep
fi
exec "$(dirname "${BASH_SOURCE[0]}")/setup_peers.sh" "$@"
