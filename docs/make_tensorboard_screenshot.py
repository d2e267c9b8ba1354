"""Photograph TensorBoard showing a run of the bundled example, for the README: ``make screenshot``.

The picture is TensorBoard's own page, not a redrawing: the example is trained (or a finished run is given), its
event files are served by ``tensorboard`` on a free local port, and headless Chromium, driven by Playwright,
opens the Time Series dashboard, keeps the three curves a newcomer looks at first (``TAG_FILTER``), puts the
losses on a log scale and saves ``docs/img/poisson_tensorboard.png``.

Usage: ``python docs/make_tensorboard_screenshot.py [RUN_DIR]``. Without ``RUN_DIR`` it trains
``examples/poisson/train.yaml`` into a temporary directory first (about 20 s on two cores). It needs Playwright
(the ``screenshot`` extra) and a Chromium binary: Debian's ``chromium`` package at ``/usr/bin/chromium``, or the
path in ``$CHROMIUM``. Playwright's own browser download is not used.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "img" / "poisson_tensorboard.png"
RUN_NAME = "poisson"
"""The name the run has in TensorBoard's run list."""

TAG_FILTER = r"^loss/(online|val)/total|^optim/lr/surrogate/default$"
"""TensorBoard's tag filter (a regex): the online and validation losses, and the learning rate of the default group."""

LOG_SCALE_CARDS = ("loss/",)
"""Cards whose tags start with one of these get a log-scale y-axis."""

SETTINGS = {"scalarSmoothing": 0, "ignoreOutliers": False, "timeSeriesSettingsPaneOpened": False,
            "stepSelectorEnabled": False, "sideBarWidthInPercent": 12}
"""TensorBoard's stored UI settings: the raw curves (no smoothing, every point in range), no settings pane, no
step table."""

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
"""Headless Chromium on a machine with no network: no phoning home at start."""


def train_example(output_path: pathlib.Path) -> pathlib.Path:
    """Train the bundled example into ``output_path`` and return its run directory."""
    sys.path.insert(0, str(ROOT))  # the example's kinds are `examples.poisson.*`, as for `noether-train` run here
    import engine

    return engine.run(ROOT / "examples" / "poisson" / "train.yaml", [f"output_path={output_path}"]).run_dir


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def tensorboard(log_dir: pathlib.Path) -> Iterator[str]:
    """Serve ``log_dir`` with TensorBoard on a free local port; yield its address once the run is listed."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(log_dir), "--host",
                               "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{address}/data/runs", timeout=2) as response:
                    if RUN_NAME in json.load(response):
                        break
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"TensorBoard did not list the run {RUN_NAME!r} at {address} within 60 s")
            time.sleep(0.5)
        yield address
    finally:
        server.terminate()
        server.wait(timeout=10)


def photograph(address: str, chromium: str, target: pathlib.Path) -> None:
    """Open the Time Series dashboard at ``address`` and save the filtered cards to ``target``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 520})
        page.add_init_script(f"localStorage.setItem('_tb_global_settings', {json.dumps(json.dumps(SETTINGS))})")
        page.goto(f"{address}/#timeseries")
        page.get_by_role("combobox", name="Filter tags (regex)").fill(TAG_FILTER)
        page.keyboard.press("Escape")
        cards = page.locator("metrics-filtered-view card-view")  # the "Tags matching filter" section
        cards.first.wait_for()
        for card in cards.all():
            if card.locator("tb-truncated-path").first.get_attribute("title").startswith(LOG_SCALE_CARDS):
                card.get_by_role("button", name="More line chart options").click()
                page.get_by_role("menuitem", name="Toggle Y-axis log scale").click()
                page.wait_for_selector("[role=menuitem]", state="detached")
        page.mouse.move(0, 0)  # no hover highlight or tooltip in the picture
        page.wait_for_timeout(1500)
        page.screenshot(path=str(target))
        browser.close()


def main() -> None:
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        raise SystemExit(f"no Chromium at {chromium}: install Debian's package (apt-get install chromium) "
                         "or set CHROMIUM to a Chromium binary")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        run_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else train_example(scratch / "outputs")
        log_dir = scratch / "tensorboard"
        shutil.copytree(run_dir / "runs", log_dir / RUN_NAME)
        with tensorboard(log_dir) as address:
            photograph(address, chromium, TARGET)
    print(f"wrote {TARGET.relative_to(ROOT)} from {run_dir}")


if __name__ == "__main__":
    main()
