"""The course's conventions, checked on every notebook and on the book's configuration."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
BIB_KEYS = set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), re.M))


def _toc_files(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("file", "root"):
                yield value
            else:
                yield from _toc_files(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_files(item)


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _source(cell):
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no chapter"


def test_every_notebook_is_in_the_toc_and_every_toc_entry_exists():
    listed = set(_toc_files(TOC))
    notebooks = {f"notebooks/{p.stem}" for p in NOTEBOOKS}
    assert notebooks - listed == set(), "notebooks missing from _toc.yml"
    for entry in listed:
        matches = list(ROOT.glob(entry + ".*"))
        assert matches, f"_toc.yml lists {entry}, which does not exist"


def test_repository_settings_make_valid_colab_links():
    repo = CONFIG["repository"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repo["url"])
    assert repo["branch"] == "main"
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: a code cell has stored outputs"
            assert cell.get("execution_count") is None, f"{path.name}: execution count stored"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_installs_from_the_configured_repo_only_in_colab(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    first = _source(code[0])
    assert 'if "google.colab" in sys.modules:' in first
    # chapters 9-11 install the data extra ("rnncourse[data] @ ..."), the others the package
    url = f"@ git+{CONFIG['repository']['url']}\""
    assert f"\"rnncourse {url}" in first or f"\"rnncourse[data] {url}" in first
    # Outside Colab the cell must do nothing: run it with subprocess.run made to explode.
    probe = (
        "import subprocess, sys\n"
        "def explode(*a, **k): raise SystemExit('the set-up cell ran a command outside Colab')\n"
        "subprocess.run = explode\n" + first
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_the_chapter_shape(path):
    cells = _cells(path)
    text = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert re.match(r"# \d+\. ", _source(cells[0])), "first cell is the '# N. Title' heading"
    for heading in ("Learning objectives", "## Summary", "## Exercises", "## References"):
        assert heading in text, f"{path.name}: no '{heading}'"
    code = "\n".join(_source(c) for c in cells if c["cell_type"] == "code")
    assert "assert " in code, f"{path.name}: the notebook asserts none of its claims"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_have_dropdown_solutions_and_self_checks(path):
    cells = _cells(path)
    sources = [_source(c) for c in cells]
    starts = [i for i, s in enumerate(sources) if s.lstrip().startswith("```{exercise-start}")]
    solutions = [i for i, s in enumerate(sources) if s.lstrip().startswith("```{solution-start}")]
    assert len(starts) >= 3, f"{path.name}: {len(starts)} exercises, at least 3 expected"
    assert len(solutions) == len(starts), f"{path.name}: every exercise needs one solution"
    for i in solutions:
        assert ":class: dropdown" in sources[i], f"{path.name}: solution not in a dropdown"
        block = []
        for cell, src in zip(cells[i + 1:], sources[i + 1:]):
            if src.lstrip().startswith("```{solution-end}"):
                break
            block.append((cell["cell_type"], src))
        code = "\n".join(s for kind, s in block if kind == "code")
        assert re.search(r"check_\w+\(", code) and "assert" in code, (
            f"{path.name}: the solution at cell {i} does not assert its self-check")
    labels = re.findall(r":label: (\S+)", "\n".join(sources[i] for i in starts))
    assert len(labels) == len(starts), f"{path.name}: every exercise needs a :label:"


def test_exercise_labels_are_unique_across_the_book():
    labels = []
    for path in NOTEBOOKS:
        text = "\n".join(_source(c) for c in _cells(path))
        labels += re.findall(r"```\{exercise-start\}\s*\n:label: (\S+)", text)
    assert len(labels) == len(set(labels))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_citations_use_the_chapter_prefix_and_exist(path):
    prefix = f"ch{path.stem[:2]}-"
    text = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")
    keys = [k.strip() for group in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text)
            for k in group.split(",")]
    assert keys, f"{path.name}: cites nothing"
    for key in keys:
        assert key.startswith(prefix), f"{path.name}: cite {key!r} without the {prefix} prefix"
        assert key[len(prefix):] in BIB_KEYS, f"{path.name}: {key!r} is not in references.bib"
    assert f":keyprefix: {prefix}" in text, f"{path.name}: bibliography lacks :keyprefix: {prefix}"


def test_the_github_workflows_run_the_readme_commands():
    workflows = ROOT / ".github" / "workflows"
    steps = {name: [step.get("run", "") for job in yaml.safe_load(
        (workflows / f"{name}.yml").read_text())["jobs"].values() for step in job["steps"]]
        for name in ("test", "pages")}
    readme = (ROOT / "README.md").read_text()
    assert "./scripts/test" in readme and "./scripts/book" in readme
    assert "./scripts/test" in steps["test"]
    assert steps["pages"].index("./scripts/test") < steps["pages"].index("./scripts/book")
    pages = (workflows / "pages.yml").read_text()
    assert "path: _build/html" in pages and "actions/deploy-pages" in pages
    assert "branches: [main]" in pages
