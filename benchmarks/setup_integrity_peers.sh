#!/usr/bin/env bash
# Peer tools for benchmarks/integrity_bench.py:
# - OpenSSF model-signing in its own venv under benchmarks/.peers/model_signing/ (it pulls
#   sigstore and ~35 packages; pyOpenSSL is imported at start-up but not declared, so a
#   clean install crashes without it);
# - b3sum (Debian package) when missing; openssl is expected on the system.
# Re-running reuses the venv and only (re)installs the packages.
set -uo pipefail

# shellcheck source=benchmarks/_peers.sh
. "$(dirname "${BASH_SOURCE[0]}")/_peers.sh"
status=0
peer_install model_signing model-signing pyopenssl || status=1

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
