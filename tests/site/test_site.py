"""Open every page of the built site in headless Chromium and check what a reader gets."""

import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_PATH = urlparse(CONFIG["repository"]["url"]).path.strip("/")
PAGES = sorted(str(p.relative_to(HTML)) for p in HTML.rglob("*.html")
               if not p.relative_to(HTML).parts[0].startswith(("_", ".")))
NOTEBOOK_PAGES = [p for p in PAGES if p.startswith("notebooks/")]


def _open(browser, url):
    """Load a page, recording every console error, page error, failed or outside request."""
    page = browser.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url} {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))

    def guard(route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", None) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            problems.append(f"request leaving the machine: {route.request.url}")
            route.abort()

    page.route("**/*", guard)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, problems


def test_site_has_the_expected_pages():
    for name in ("book/intro.html", "book/how_to_use.html", "book/glossary.html", "book/faq.html",
                 "book/bibliography.html", "book/math_refresher.html",
                 "book/instructors.html"):
        assert name in PAGES
    stems = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert {Path(p).stem for p in NOTEBOOK_PAGES} == stems


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_cleanly_offline_with_math_typeset(browser, site_url, name):
    page, problems = _open(browser, f"{site_url}/{name}")
    try:
        if page.locator(".math, span.math, div.math").count() > 0:
            page.wait_for_selector("mjx-container", state="attached", timeout=20_000)
            assert page.locator("mjx-container").count() > 0, "math was not typeset"
            assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"
        page.wait_for_timeout(200)
        assert problems == []
    finally:
        page.close()


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_notebook_page_has_its_colab_link(browser, site_url, name):
    page, _ = _open(browser, f"{site_url}/{name}")
    try:
        stem = Path(name).stem
        expected = (f"https://colab.research.google.com/github/{REPO_PATH}/blob/main/"
                    f"notebooks/{stem}.ipynb")
        hrefs = page.eval_on_selector_all("a[href*='colab']", "els => els.map(e => e.href)")
        assert expected in hrefs, f"no Colab link {expected}; found {hrefs}"
    finally:
        page.close()


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_exercise_solutions_are_hidden_until_clicked(browser, site_url, name):
    page, _ = _open(browser, f"{site_url}/{name}")
    try:
        solutions = page.locator("div.solution")
        assert solutions.count() >= 3, "fewer than three solutions on the page"
        for i in range(solutions.count()):
            solution = solutions.nth(i)
            body = solution.locator("section, .solution-content, div.cell").first
            solution.scroll_into_view_if_needed()
            assert not body.is_visible(), f"solution {i} is visible before it is clicked"
            solution.locator(".admonition-title, summary, button").first.click()
            body.wait_for(state="visible", timeout=5_000)
    finally:
        page.close()


def test_every_page_has_a_title_and_no_raw_directives():
    for name in PAGES:
        text = (HTML / name).read_text()
        if name == "index.html":  # Jupyter Book's redirect to the root page
            assert 'url=book/intro.html' in text
            continue
        assert "<title>" in text
        assert not re.search(r"```\{(exercise|solution|bibliography)", text), name


TQDM_BAR = re.compile(r"\d+/\d+ \[\d+:\d+")  # "40/40 [00:01<00:00, 30.1it/s]"


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_no_progress_bars_on_the_website(name):
    # book/_ext/quiet_progress.py switches runtime.progress off while the book executes
    bars = TQDM_BAR.findall((HTML / name).read_text())
    assert bars == [], f"{len(bars)} progress-bar lines on {name}, e.g. {bars[0]!r}"
