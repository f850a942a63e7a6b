"""Shared fixtures: the generated scan corpus (built once per session, in a child process)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.corpus import MARKER_PREFIX, Sample, corpus_table

REPO = Path(__file__).resolve().parent.parent
_BUILD = (
    "import sys, pathlib; from tests.corpus import build_corpus; "
    "build_corpus(pathlib.Path(sys.argv[1]))"
)


@dataclass(frozen=True)
class Corpus:
    """The built corpus: its root directory and its table."""

    root: Path
    samples: tuple[Sample, ...]
    basetemp: Path

    def markers(self) -> list[Path]:
        """Marker files anywhere under the session's temporary directory."""
        return sorted(self.basetemp.rglob(f"{MARKER_PREFIX}*"))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    # NOTE: built in a child process so that torch/sklearn (and their threads and warnings)
    # never load into the test process, which then forks scan workers.
    root = tmp_path_factory.mktemp("corpus").resolve()
    done = subprocess.run(
        [sys.executable, "-c", _BUILD, str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"building the corpus failed:\n{done.stderr[-4000:]}")
    return Corpus(root, tuple(corpus_table()), tmp_path_factory.getbasetemp().resolve())
