# Sourced by the benchmarks/setup_*peers.sh scripts: one virtualenv per peer tool under
# benchmarks/.peers/<name>/ (git-ignored), created once and reused.
#
#   peer_venv NAME            create (once) the venv of NAME; prints its path
#   peer_install NAME PKG...  peer_venv NAME, then pip install PKG... into it; prints the
#                             version of the first package; returns 1 (with a message) when
#                             the venv or the install fails, so that the caller reports the
#                             peer as unavailable instead of stopping
peers_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/.peers"
peers_python="${PYTHON:-python3}"

peer_venv() {
    local venv="$peers_dir/$1"
    if [ ! -x "$venv/bin/python" ]; then
        "$peers_python" -m venv "$venv" || { echo "venv failed for $1" >&2; return 1; }
        "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    fi
    printf '%s\n' "$venv"
}

peer_install() {
    local name="$1" venv
    shift
    venv="$(peer_venv "$name")" || return 1
    echo "== $name -> $venv"
    if ! "$venv/bin/python" -m pip install --quiet "$@"; then
        echo "install failed for $name; the benchmark will report it as unavailable" >&2
        return 1
    fi
    local first="${1%%[<>=!~ ]*}"
    "$venv/bin/python" -m pip show "$first" 2>/dev/null | sed -n "s/^Version: /   $first /p"
}
