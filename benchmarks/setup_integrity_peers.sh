#!/usr/bin/env bash
# Peer tools for benchmarks/integrity_bench.py:
# - OpenSSF model-signing in its own venv under benchmarks/.peers/model_signing/ (it pulls
#   sigstore and ~35 packages; pyOpenSSL is imported at start-up but not declared, so a
#   clean install crashes without it);
# - b3sum (Debian package) when missing; openssl is expected on the system.
# Re-running reuses the venv and only (re)installs the packages.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.peers/model_signing"
python="${PYTHON:-python3}"
status=0

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" || { echo "venv failed for model_signing" >&2; exit 1; }
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
if "$venv/bin/python" -m pip install --quiet model-signing pyopenssl; then
    "$venv/bin/python" -m pip show model-signing | sed -n 's/^Version: /model-signing version: /p'
else
    echo "install failed for model-signing; the benchmark will report it as unavailable" >&2
    status=1
fi

if ! command -v b3sum >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        apt-get install -y b3sum >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y b3sum; } \
            || echo "apt-get could not install b3sum" >&2
    fi
fi
if ! command -v b3sum >/dev/null 2>&1; then
    # NOTE: the blake3 PyPI package has no command-line tool; without the Debian package
    # (or `cargo install b3sum`) the benchmark reports the BLAKE3 comparison as unavailable.
    echo "no b3sum available; the BLAKE3 comparison will be reported as unavailable" >&2
    status=1
fi
command -v openssl >/dev/null 2>&1 || { echo "openssl not found" >&2; status=1; }
exit "$status"
