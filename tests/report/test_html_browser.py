"""The HTML report in a real browser: headless Chromium lays it out and takes a screenshot.

Needs the Debian ``chromium`` package; skips without it unless MLWARDEN_REQUIRE_SERVICES=1.
MLWARDEN_UPDATE_SCREENSHOT=1 also refreshes docs/report-screenshot.png from this run.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from mlwarden.report.html import to_html
from tests.report.samples import secure_report, vulnerable_report

REPO = Path(__file__).resolve().parents[2]
_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,2000",
)  # fmt: skip
_PWN = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    reason = "headless Chromium is not installed (apt-get install -y chromium)"
    if os.environ.get("MLWARDEN_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    vulnerable = vulnerable_report()
    hostile = replace(vulnerable.findings[0], message=f"payload {_PWN}", evidence=_PWN)
    report = replace(vulnerable, findings=(hostile, *vulnerable.findings[1:]))
    out = tmp_path_factory.mktemp("html") / "report.html"
    out.write_text(to_html(report, compare=secure_report()), encoding="utf-8")
    return out


def _run(chromium: str, page: Path, profile: Path, *extra: str) -> str:
    done = subprocess.run(
        [chromium, *_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_browser_lays_out_sections_tiles_and_plots(
    chromium: str, page: Path, tmp_path: Path
) -> None:
    dom = _run(chromium, page, tmp_path / "profile", "--dump-dom")
    assert "<main>" in dom and "</html>" in dom
    tiles = re.findall(r'class="tile st-(?:pass|warn|fail|na)"', dom)
    assert len(tiles) == 10
    sections = re.findall(r'<section class="card risk st-[a-z]+" id="(ml\d\d)">', dom)
    assert sections == ["ml01", "ml02", "ml04", "ml05", "ml06", "ml08"]
    plots = re.findall(r'<svg xmlns="http://www.w3.org/2000/svg" viewBox="[^"]+" role="img"', dom)
    assert len(plots) == 10  # 3 line + 2 bar charts per side, two sides
    assert len(re.findall(r'<img src="data:image/png;base64,', dom)) == 8
    assert dom.count('<div class="column">') >= 12
    assert 'data-pwned="1"' not in dom
    assert "&lt;img src=x onerror=" in dom


def test_browser_screenshot(chromium: str, page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _run(chromium, page, tmp_path / "profile", f"--screenshot={shot}")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1280, 2000)
    assert len(data) > 50_000  # a laid-out page, not a blank one
    if os.environ.get("MLWARDEN_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, REPO / "docs" / "report-screenshot.png")
