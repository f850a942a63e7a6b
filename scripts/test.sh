#!/usr/bin/env bash
# Quickstart 2: the test suite (sets up .venv with every extra on first run).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh all,dev,torch,dp
exec python -m pytest "$@"
