#!/usr/bin/env bash
# Create the venv of the drift benchmark's peer, Evidently, under benchmarks/.peers/evidently/
# for benchmarks/drift_bench.py (which runs benchmarks/drift_bench_evidently.py inside it).
# The folder is git-ignored; re-running reuses the venv and skips the install when Evidently
# already imports.
#
# Evidently is left unpinned (its latest release is what users run; 0.7.23 when this was
# written, with the 0.7 API: evidently.Report + evidently.presets.DataDriftPreset). pandas is
# capped below 3: Evidently 0.7.23 declares no upper bound, but its dev extra pins
# pandas-stubs<3, i.e. it is developed against pandas 2. threadpoolctl (the runner uses it to
# keep one BLAS thread) only comes in through scikit-learn, so it is named explicitly.
#
# Usage: benchmarks/setup_drift_peers.sh
set -euo pipefail

# shellcheck source=benchmarks/_peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/_peers.sh"
venv="$(peer_venv evidently)"
if ! "$venv/bin/python" -c 'import evidently, pandas, threadpoolctl' >/dev/null 2>&1; then
    peer_install evidently evidently "pandas<3" threadpoolctl
fi
"$venv/bin/python" - <<'PY'
import evidently, pandas, scipy
from evidently.presets import DataDriftPreset  # the 0.7 API the benchmark uses
print(f"evidently {evidently.__version__}, pandas {pandas.__version__}, scipy {scipy.__version__}")
PY
