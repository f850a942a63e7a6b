# Sourced by the scripts: creates (once) and activates the project virtualenv in .venv.
# Usage: . scripts/_venv.sh EXTRAS   (e.g. "demo" or "all,dev,torch")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MLWARDEN_VENV:-$root/.venv}"
extras="$1"
stamp="$venv/.mlwarden-installed-$(echo "$extras" | tr ',' '-')"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
if [[ ! -f "$stamp" || "$root/pyproject.toml" -nt "$stamp" || "$root/constraints/dev.txt" -nt "$stamp" ]]; then
  python -m pip install --quiet --disable-pip-version-check -c "$root/constraints/dev.txt" -e "$root[$extras]"
  touch "$stamp"
fi
