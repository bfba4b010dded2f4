"""A real browser on the learner's lab: `make lab`'s server opens module 00, a check shows its message, and
nbgrader's instructor tools are absent. Needs Chromium: the set-up installs Debian's package when it can, and
the test is skipped with the reason when it cannot."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Callable

import pytest

from tests.conftest import ROOT

TOKEN = "aipmlab-browser-test"


def chromium_path() -> str:
    """Debian's Chromium, installed with apt-get when missing and allowed (root); otherwise skip with the reason."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(command, capture_output=True, timeout=600)
        if shutil.which("chromium"):
            return shutil.which("chromium")
    pytest.skip("no Chromium here and it could not be installed (needs Debian's apt-get as root); "
                "install chromium to run the real-browser test")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_lab(url: str, token: str, failure: Callable[[], str]) -> None:
    """Wait up to a minute for the JupyterLab at `url` (started with `token`) to answer; else fail with `failure()`."""
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(failure())


@pytest.fixture(scope="module")
def learner_lab(tmp_path_factory):
    """`tools/bootstrap.py lab` serving a throwaway my-work/, on a free port, stopped after the tests."""
    pytest.importorskip("playwright", reason="playwright is a test dependency; run `make test` to install it")
    browser = chromium_path()
    folder = tmp_path_factory.mktemp("learner")
    port = free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AIPMLAB_", "JUPYTER_", "PYTEST_"))}
    env = dict(inherited, AIPMLAB_WORKSPACE=str(folder / "my-work"), JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
               JUPYTER_DATA_DIR=str(folder / "data"), HOME=str(folder))
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "bootstrap.py"), "lab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_lab(base, TOKEN, lambda: "the learner's JupyterLab did not start within a minute")
        yield base, browser, folder
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_module_00_opens_runs_a_check_and_shows_its_message(learner_lab):
    from playwright.sync_api import sync_playwright

    base, browser_path, folder = learner_lab
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{base}/lab/tree/00-start-here/00-start-here.ipynb?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=180_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
        # Run the cells one by one from the top, as module 00 tells a learner to. (Run All would leave the
        # failing check above the viewport, where JupyterLab does not render outputs.)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Escape")
        message = page.locator(".jp-OutputArea-output", has_text="not attempted yet")
        for _ in range(40):
            page.keyboard.press("Shift+Enter")
            page.wait_for_timeout(300)  # let the execution start before asking whether the kernel is idle
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
            if message.count():
                break
        try:
            message.first.wait_for(timeout=180_000)
        except Exception:
            page.screenshot(path=str(folder / "module-00-failed.png"), full_page=False)
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            shown = " | ".join(errors.all_inner_texts())[:1500]
            pytest.fail(f"no check message appeared; screenshot in {folder}; error outputs: {shown or 'none'}")
        message.first.scroll_into_view_if_needed()
        page.screenshot(path=str(folder / "module-00-check.png"), full_page=False)
        shown = message.first.inner_text()
        assert "Exercise 1 (language_mix): not attempted yet" in shown
        assert "aipmlab/" not in shown and "Traceback" not in shown
        menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
        assert "Run" in menus and not any("nbgrader" in label.lower() for label in menus), menus
        browser.close()
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{base}/formgrader?token={TOKEN}")
