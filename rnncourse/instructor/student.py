"""Student and solutions versions of the chapter notebooks.

A **student version** is the chapter with every solution block removed: the exercise text and
the learner's cell (a stub that raises ``NotImplementedError``, then the self-check call) stay,
so the notebook still runs end to end and each check reports "not implemented yet". With
``only=`` a subset of exercises is kept (the others are removed, task and solution). With
``nbgrader=True`` the cells carry nbgrader's metadata (the learner's cells are "autograded
answer" cells, everything else is read-only), so an nbgrader course can import them.

A **solutions version** is for instructors: the set-up cells, then every exercise with its
reference solution, without the chapter's body.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from rnncourse.instructor.catalog import cell_source, find_exercises, setup_cells

__all__ = ["student_notebook", "solutions_notebook"]


def _cleared(cell: dict[str, Any]) -> dict[str, Any]:
    cell = copy.deepcopy(cell)
    if cell["cell_type"] == "code":
        cell["outputs"], cell["execution_count"] = [], None
    return cell


def _nbgrader(cell: dict[str, Any], grade_id: str, answer: bool) -> dict[str, Any]:
    cell.setdefault("metadata", {})["nbgrader"] = {
        "grade": False, "grade_id": grade_id, "locked": not answer, "schema_version": 3,
        "solution": answer, "task": False}
    return cell


def student_notebook(notebook: dict[str, Any], only: Iterable[str] | None = None,
                     nbgrader: bool = False, name: str = "") -> tuple[dict[str, Any], int]:
    """The student version of ``notebook`` and the number of solutions removed.

    ``only``: exercise labels to keep (e.g. ``["ch06-gru-step"]``); an unknown label is a
    ``ValueError`` naming the labels the notebook has. Outputs are cleared.
    """
    exercises = find_exercises(notebook, name)
    labels = {e.label for e in exercises}
    keep = labels if only is None else set(only)
    unknown = keep - labels
    if unknown:
        raise ValueError(f"{name or 'notebook'} has no exercise {sorted(unknown)}; "
                         f"its exercises are {sorted(labels)}")
    drop: set[int] = set()
    answers: dict[int, str] = {}
    for exercise in exercises:
        drop.update(range(*exercise.solution_block))
        if exercise.label not in keep:
            drop.update(range(*exercise.block))
        for n, i in enumerate(exercise.cells):
            answers[i] = exercise.label if n == 0 else f"{exercise.label}-{n + 1}"
    cells = []
    for i, cell in enumerate(notebook["cells"]):
        if i in drop:
            continue
        cell = _cleared(cell)
        if nbgrader:
            cell = _nbgrader(cell, answers.get(i, f"cell-{cell.get('id', i)}"), i in answers)
        cells.append(cell)
    removed = sum(1 for e in exercises if e.solution)
    return {**notebook, "cells": cells}, removed


def solutions_notebook(notebook: dict[str, Any], name: str = "") -> dict[str, Any]:
    """Set-up cells, then each exercise followed by its reference solution, outputs cleared."""
    exercises = find_exercises(notebook, name)
    cells = notebook["cells"]
    titles = (cell_source(c).splitlines()[0] for c in cells
              if c["cell_type"] == "markdown" and cell_source(c).startswith("# "))
    title = next(titles, "# Notebook")
    out = [{"cell_type": "markdown", "metadata": {},
            "source": f"{title} — exercise solutions (for instructors)"}]
    out += [_cleared(cells[i]) for i in setup_cells(notebook)]
    for exercise in exercises:
        start, stop = exercise.block
        out += [_cleared(cells[i]) for i in range(start + 1, stop - 1)
                if cells[i]["cell_type"] == "markdown"]
        out += [_cleared(cells[i]) for i in exercise.solution]
    for i, cell in enumerate(out):
        cell["id"] = f"sol-{i}"
    return {**notebook, "cells": out}
