"""Example submissions, to try the grader before the real ones arrive.

``example_submissions(course_notebook, folder, n)`` writes ``n`` notebooks as a class might
hand them in: each exercise is, at random, solved (the reference solution pasted into the
learner's cell), left as the stub, answered wrongly (the cell replaced by one that calls the
check with an answer that raises), or broken (a syntax error). The instructors' page and
``benchmarks/grading_speed.py`` use it; ``rnncourse examples`` exposes it.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

from rnncourse.instructor.catalog import cell_source, find_exercises, load_notebook
from rnncourse.instructor.student import student_notebook

__all__ = ["example_submissions"]

KINDS = ("solved", "stub", "wrong", "broken")


def _answer(kind: str, solution: str, checks: tuple[str, ...]) -> str | None:
    if kind == "solved":
        return solution
    if kind == "wrong":  # every check of the exercise gets an answer that crashes
        calls = [f"print({name.split('.', 2)[2]}(lambda *args, **kwargs: 1 / 0))"
                 for name in checks]
        return "\n".join(calls)
    if kind == "broken":
        return "def answer(:\n    pass\n"
    return None  # the stub stays


def example_submissions(course_notebook: str | Path, folder: str | Path, n: int = 30,
                        seed: int = 0, weights: tuple[float, ...] = (0.6, 0.2, 0.15, 0.05)
                        ) -> dict[str, dict[str, str]]:
    """Write ``n`` submissions ``student_01.ipynb`` ... into ``folder``; return what each
    exercise of each student was (``{"student_01": {"ch06-gru-step": "solved", ...}}``)."""
    if n < 1:
        raise ValueError(f"n must be a positive number of submissions, got {n}")
    notebook = load_notebook(course_notebook)
    exercises = find_exercises(notebook, Path(course_notebook).name)
    student, _ = student_notebook(notebook)
    rng = random.Random(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plan = {}
    for k in range(1, n + 1):
        mine = copy.deepcopy(student)
        kinds = {}
        for course_exercise, exercise in zip(exercises, find_exercises(mine)):
            kind = rng.choices(KINDS, weights=weights)[0]
            solution = "\n\n".join(cell_source(notebook["cells"][i])
                                   for i in course_exercise.solution)
            answer = _answer(kind, solution, course_exercise.checks)
            if answer is not None:
                mine["cells"][exercise.cells[0]]["source"] = answer
            kinds[exercise.label] = kind
        name = f"student_{k:02d}"
        (folder / f"{name}.ipynb").write_text(json.dumps(mine, indent=1, ensure_ascii=False),
                                              encoding="utf-8")
        plan[name] = kinds
    return plan
