"""The planners' report in a real browser: headless Chromium draws it, offline, with its charts.

Chromium is Debian's ``chromium`` package. When it is missing the set-up installs it
(``apt-get update && apt-get install -y chromium``, as root or through password-less sudo); the
test never skips for want of a browser: CI must run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_forecasts import REPORT_SECTIONS, ForecastSetup, forecast_setup, parse_page

pytestmark = pytest.mark.browser

BROWSERS = ("chromium", "chromium-browser")
INSTALL_TIMEOUT_S = 900
BROWSER_TIMEOUT_S = 120
WINDOW = (1400, 4000)
FORECAST_BLUE = (8, 81, 156)  # training.forecasts.charts.FORECAST_COLOUR


def find_chromium() -> str | None:
    """The path of an installed Chromium, or None."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def install_chromium() -> None:
    """``apt-get update && apt-get install -y chromium``, as root or with password-less sudo."""
    if os.geteuid() == 0:
        prefix: list[str] = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"]).returncode == 0:
        prefix = ["sudo", "-n"]
    else:
        pytest.fail(
            "Chromium is missing and cannot be installed without root: run "
            "`apt-get update && apt-get install -y chromium` as root"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(
            prefix + command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
        )
        if done.returncode != 0:
            pytest.fail(
                f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            )


@pytest.fixture(scope="session")
def chromium() -> str:
    """Chromium's path, installing Debian's package first when it is missing."""
    path = find_chromium()
    if path is None:
        install_chromium()
        path = find_chromium()
    assert path is not None, "chromium is still missing after apt-get install"
    return path


def run_chromium(chromium: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run headless Chromium offline-minded, with a throw-away profile."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *arguments,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=BROWSER_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def screenshot_pixels(path: Path) -> np.ndarray:
    """The screenshot as an (height, width, 3) array of 0-255 integers."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> ForecastSetup:
    return forecast_setup(tmp_path_factory)


def test_the_report_draws_its_charts_in_headless_chromium(
    chromium: str, setup: ForecastSetup, tmp_path: Path
) -> None:
    report = setup.result.report
    png = tmp_path / "report.png"
    width, height = WINDOW
    run_chromium(
        chromium,
        tmp_path / "profile",
        f"--screenshot={png}",
        f"--window-size={width},{height}",
        report.resolve().as_uri(),
    )
    pixels = screenshot_pixels(png)
    assert pixels.shape == (height, width, 3)
    assert pixels.std() > 20, "the screenshot is blank"
    ink = (np.abs(pixels - 255).sum(axis=2) > 60).mean()
    assert 0.02 < ink < 0.9, f"{ink:.1%} of the page is not white"
    blue = (np.abs(pixels - np.array(FORECAST_BLUE)).sum(axis=2) < 40).sum()
    assert blue > 2_000, "no forecast line or bar of the charts was drawn"


def test_the_rendered_page_has_every_section_and_embedded_charts(
    chromium: str, setup: ForecastSetup, tmp_path: Path
) -> None:
    done = run_chromium(
        chromium, tmp_path / "profile", "--dump-dom", setup.result.report.resolve().as_uri()
    )
    page = parse_page(done.stdout)
    for section in REPORT_SECTIONS:
        assert section in page.headings
    boutiques = setup.boutique_labels
    assert set(boutiques) <= set(page.headings)
    assert len(page.images) >= len(boutiques) + 2  # a daily chart each, the overview charts
    assert all(source.startswith("data:image/png;base64,") for source in page.images)
    assert all(link.startswith(("#", "data:")) for link in page.links)
