import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("student_version",
                                              ROOT / "scripts" / "student_version.py")
student_version = importlib.util.module_from_spec(spec)
spec.loader.exec_module(student_version)


def _md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text):
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [{"x": 1}],
            "execution_count": 3}


NOTEBOOK = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    _md("# 1. Title"),
    _md("```{exercise-start}\n:label: ch01-a\n```"), _code("check(answer)"),
    _md("```{exercise-end}\n```"),
    _md("```{solution-start} ch01-a\n:class: dropdown\n```"), _code("answer = 42"),
    _md("```{solution-end}\n```"),
    _md("## Summary"),
]}


def test_solutions_are_removed_and_exercises_kept():
    student, removed = student_version.strip_solutions(NOTEBOOK)
    sources = [c["source"] for c in student["cells"]]
    assert removed == 1
    assert "answer = 42" not in sources and "check(answer)" in sources
    assert sources[-1] == "## Summary"
    assert all(c.get("outputs", []) == [] for c in student["cells"])


def test_unbalanced_markers_are_refused():
    broken = {**NOTEBOOK, "cells": NOTEBOOK["cells"][:5]}
    with pytest.raises(ValueError, match="without its solution-end"):
        student_version.strip_solutions(broken)


def test_every_chapter_has_its_solutions_removed(tmp_path):
    chapters = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert student_version.main([str(p) for p in chapters] + ["-o", str(tmp_path)]) == 0
    for path in chapters:
        text = (tmp_path / path.name).read_text()
        assert "solution-start" not in text and "exercise-start" in text
        assert json.loads(text)["cells"]
