#!/usr/bin/env bash
# Quickstart 1: the main job on bundled data (sets up .venv on first run).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh demo
exec mlwarden demo "$@"
