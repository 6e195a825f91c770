"""Serve the built site on 127.0.0.1 and drive Debian's Chromium with Playwright.

These tests need three things a fresh checkout lacks: the site built in ``_build/html``
(``./scripts/book``), the ``playwright`` package and a Chromium binary. When one is missing,
every test of this directory is skipped with the reason, so that a plain ``pytest`` passes;
``scripts/test`` builds the site and installs Chromium first, and sets
``RNNCOURSE_REQUIRE_SITE=1`` so that anything missing there fails instead of skipping.
"""

import functools
import http.server
import importlib.util
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
_SKIPPED = pytest.StashKey[str]()  # the summary line of a skipped run


def _find_chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def chromium_path() -> str:
    path = _find_chromium()
    if path is None:
        pytest.fail("Chromium not found: scripts/test installs Debian's chromium package")
    return path


def missing_requirement() -> str | None:
    """Why the site tests cannot run here, or ``None`` when they can."""
    if not (HTML / "index.html").exists():
        return "no built site in _build/html: run ./scripts/book first"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed: pip install -r requirements-dev.txt"
    if _find_chromium() is None:
        return ("Chromium not found: install Debian's chromium package (scripts/test does) "
                "or set CHROMIUM to its path")
    return None


def pytest_collection_modifyitems(config, items):
    reason = missing_requirement()
    here = Path(__file__).parent
    ours = [item for item in items if here in Path(item.path).parents]
    if reason is None or not ours:
        return
    if os.environ.get("RNNCOURSE_REQUIRE_SITE") == "1":
        raise pytest.UsageError(f"site tests required (RNNCOURSE_REQUIRE_SITE=1) but {reason}")
    config.stash[_SKIPPED] = f"{len(ours)} site tests skipped: {reason}"
    for item in ours:  # first, so that it wins over "got empty parameter set" (no pages)
        item.add_marker(pytest.mark.skip(reason=reason), append=False)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _SKIPPED in config.stash:
        terminalreporter.write_line(config.stash[_SKIPPED], yellow=True)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def site_url():
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: build the book first (scripts/book)")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="rnncourse-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": 1280, "height": 900})
        # A fresh profile makes the theme log "Got invalid theme mode"; real users have one.
        context.add_init_script("try { localStorage.setItem('mode', 'light'); } catch (e) {}")
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)
