"""The instructor toolkit: exercise catalogue, student/solutions versions, the grader."""

import copy
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnncourse.instructor import cli
from rnncourse.instructor.catalog import (
    NotebookFormatError,
    cell_source,
    find_exercises,
    load_notebook,
    setup_cells,
)
from rnncourse.instructor.student import solutions_notebook, student_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text):
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [{"x": 1}],
            "execution_count": 3}


def _toy():
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        _md("# 1. Title"), _code("import x"), _md("## 1.1 Section"),
        _md("```{exercise-start}\n:label: ch01-a\n```"), _md("**★★ First.** Do it."),
        _code("def f():\n    raise NotImplementedError\n\nprint(ch01.check_a(f))"),
        _md("```{exercise-end}\n```"),
        _md("```{solution-start} ch01-a\n:class: dropdown\n```"), _code("answer = 42"),
        _md("```{solution-end}\n```"),
        _md("```{exercise-start}\n:label: ch01-b\n```"), _md("★★★ **Second.** More."),
        _code("print(ch01.check_b(g))"), _md("```{exercise-end}\n```"),
        _md("```{solution-start} ch01-b\n:class: dropdown\n```"), _code("answer = 7"),
        _md("```{solution-end}\n```"),
        _md("## Summary"),
    ]}


# --- the catalogue ---------------------------------------------------------------------------

def test_catalogue_of_the_toy_notebook():
    a, b = find_exercises(_toy(), "toy.ipynb")
    assert (a.label, a.chapter, a.title, a.stars, a.points) == ("ch01-a", 1, "First", 2, 2)
    assert (b.title, b.stars) == ("Second", 3)
    assert a.checks == ("rnncourse.exercises.ch01.check_a",)
    assert a.cells == (5,) and a.solution == (8,) and a.block == (3, 7)
    assert a.solution_block == (7, 10)
    assert setup_cells(_toy()) == [1]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_course_exercise_is_catalogued_with_an_existing_check(path):
    import importlib

    exercises = find_exercises(load_notebook(path), path.name)
    assert len(exercises) >= 3
    assert {e.stars for e in exercises} <= {1, 2, 3}
    assert len({e.label for e in exercises}) == len(exercises)
    for e in exercises:
        assert e.checks, f"{e.label}: its cell calls no chNN.check_* function"
        assert e.solution, f"{e.label}: no solution cells"
        for name in e.checks:
            module, fn = name.rsplit(".", 1)
            assert callable(getattr(importlib.import_module(module), fn)), name


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.pop(6), "without ```{exercise-end}"),
    (lambda c: c.__setitem__(3, _md("```{exercise-start}\n```")), "without :label:"),
    (lambda c: c.__setitem__(7, _md("```{solution-start} ch01-zz\n```")), "unknown exercise"),
    (lambda c: c.__setitem__(4, _md("No stars here.")), "**★ Title.**"),
    (lambda c: c.insert(2, _md("```{solution-end}\n```")), "without its start"),
])
def test_malformed_exercise_blocks_are_named(mutate, message):
    notebook = _toy()
    mutate(notebook["cells"])
    with pytest.raises(NotebookFormatError, match="cell|exercise") as info:
        find_exercises(notebook, "toy.ipynb")
    assert message in str(info.value)


def test_a_file_that_is_not_a_notebook_is_a_clear_error(tmp_path):
    for text, reason in [('{"cells": [', "not JSON"), ("[1, 2]", "no list of cells"),
                         ('{"cells": [1]}', "cell 0"), ("\xff\xfe", "not JSON")]:
        path = tmp_path / "x.ipynb"
        path.write_bytes(text.encode("latin-1"))
        with pytest.raises(NotebookFormatError, match=reason):
            load_notebook(path)


# --- student and solutions versions ----------------------------------------------------------

def test_student_version_removes_solutions_and_keeps_exercises():
    student, removed = student_notebook(_toy())
    sources = [cell_source(c) for c in student["cells"]]
    assert removed == 2
    assert "answer = 42" not in sources and "answer = 7" not in sources
    assert any("check_a(f)" in s for s in sources) and sources[-1] == "## Summary"
    assert all(c.get("outputs", []) == [] for c in student["cells"] if c["cell_type"] == "code")
    assert find_exercises(student)[0].solution == ()  # still a valid course notebook


def test_student_version_of_a_subset_and_with_nbgrader_metadata():
    student, _ = student_notebook(_toy(), only=["ch01-b"], nbgrader=True)
    sources = [cell_source(c) for c in student["cells"]]
    assert not any("check_a" in s for s in sources) and any("check_b" in s for s in sources)
    meta = [c["metadata"]["nbgrader"] for c in student["cells"]]
    answers = [m for m in meta if m["solution"]]
    assert [m["grade_id"] for m in answers] == ["ch01-b"]
    assert all(m["locked"] for m in meta if not m["solution"])
    assert len({m["grade_id"] for m in meta}) == len(meta)  # nbgrader needs unique ids
    with pytest.raises(ValueError, match="ch01-a"):
        student_notebook(_toy(), only=["ch01-zz"])


def test_solutions_version_has_setup_tasks_and_solutions_only():
    sources = [cell_source(c) for c in solutions_notebook(_toy())["cells"]]
    assert sources[0].startswith("# 1. Title") and "solutions" in sources[0]
    assert sources[1:] == ["import x", "**★★ First.** Do it.", "answer = 42",
                           "★★★ **Second.** More.", "answer = 7"]


def test_cli_lists_writes_and_reports_errors(tmp_path, capsys):
    course = tmp_path / "course"
    course.mkdir()
    (course / "01_toy.ipynb").write_text(json.dumps(_toy()))
    assert cli.main(["exercises", str(course)]) == 0
    out = capsys.readouterr().out
    assert "ch01-a" in out and "★★★" in out and "2 exercises, 5 points" in out
    assert cli.main(["student", str(course), "-o", str(tmp_path / "s")]) == 0
    written = load_notebook(tmp_path / "s" / "01_toy.ipynb")
    assert not any("answer = 42" in cell_source(c) for c in written["cells"])
    assert cli.main(["solutions", str(course / "01_toy.ipynb"), "-o", str(tmp_path / "k")]) == 0
    assert (tmp_path / "k" / "01_toy_solutions.ipynb").exists()
    assert cli.main(["exercises", str(tmp_path / "missing.ipynb")]) == 2
    assert "not a notebook" in capsys.readouterr().err
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ann.ipynb").write_text(json.dumps(_toy()))  # its set-up cell fails: 'import x'
    assert cli.main(["grade", str(subs), "--course", str(course), "-o", str(tmp_path / "g"),
                     "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "ann" in out and "0/5" in out
    assert re.search(r"^1 submission graded in \d+\.\d s, 1 at a time$", out, re.M), out


# --- the grader --------------------------------------------------------------------------------

CHAPTER = ROOT / "notebooks" / "06_gru.ipynb"


def _solved(notebook):
    """The chapter with each exercise's cell replaced by its reference solution."""
    solved = copy.deepcopy(notebook)
    for e in find_exercises(notebook):
        code = "\n\n".join(cell_source(notebook["cells"][i]) for i in e.solution)
        solved["cells"][e.cells[0]]["source"] = code
    return solved


def _with_answers(notebook, *answers):
    """The student version with the first exercises' cells replaced by ``answers``."""
    student, _ = student_notebook(notebook)
    for e, answer in zip(find_exercises(student), answers):
        student["cells"][e.cells[0]]["source"] = answer
    return student


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from rnncourse.instructor.grading import grade, sandbox_available

    root = tmp_path_factory.mktemp("grading")
    course = root / "course"
    course.mkdir()
    (course / CHAPTER.name).write_text(CHAPTER.read_text())
    notebook = load_notebook(CHAPTER)
    subs = root / "submissions"
    (subs / "bob").mkdir(parents=True)
    victim = subs / "victim.txt"
    victim.write_text("another student's file")
    write = lambda name, nb: (subs / name).write_text(json.dumps(nb))  # noqa: E731
    write("good.ipynb", _solved(notebook))
    write("bob/06_gru.ipynb", student_notebook(notebook)[0])  # nothing attempted
    # one kernel per submission: hostile cells share submissions to keep the test short
    write("broken.ipynb", _with_answers(notebook, "while True:\n    pass",
                                        "import sys\nsys.exit(3)", "def f(:\n"))
    write("crash.ipynb", _with_answers(notebook, "import os\nos._exit(1)", "exit()"))
    wrong_count = "lambda i, h: 3 * (h * i + h * h + h)"  # one bias vector per block, not two
    write("wrong.ipynb", _with_answers(notebook, "print('x' * 50_000_000)\n"
                                       f"print(ch06.check_gru_param_count({wrong_count}))"))
    if sandbox_available():  # without namespaces it would really delete the other files
        write("vandal.ipynb", _with_answers(notebook, (
            "import os, shutil, socket\nharmless = True\n"
            f"for p in [{str(victim)!r}, {str(course / CHAPTER.name)!r}, {str(root / 'out')!r}]:\n"
            "    try:\n        os.remove(p)\n        harmless = False\n"
            "    except OSError:\n        pass\n"
            f"shutil.rmtree({str(subs)!r}, ignore_errors=True)\n"
            "s = socket.socket()\ns.settimeout(2)\n"
            "harmless = harmless and s.connect_ex(('1.1.1.1', 80)) != 0\n"
            "count = lambda i, h: 3 * (h * i + h * h + 2 * h) if harmless else -1\n"
            "print(ch06.check_gru_param_count(count))")))
    write("hog.ipynb", _with_answers(notebook, "hoard = [bytearray(2**20) for _ in range(8192)]"))
    (subs / "notjson.ipynb").write_text('{"cells": [')
    other = copy.deepcopy(_toy())
    (subs / "other_course.ipynb").write_text(json.dumps(other))
    out = root / "out"
    out.mkdir()
    rows = grade(subs, course, out, cell_timeout=15, time_limit=240, memory_mb=3072,
                 max_output_bytes=10_000, workers=2, show_progress=False)
    return rows, out, victim, course / CHAPTER.name, sandbox_available()


def _status(rows, student):
    return {r.exercise: r.status for r in rows if r.student == student}


def test_grader_grades_correct_missing_and_wrong_answers(graded):
    rows, *_ = graded
    assert set(_status(rows, "good").values()) == {"passed"}
    good = [r for r in rows if r.student == "good"]
    assert sum(r.points for r in good) == sum(r.max_points for r in good) >= 6
    assert set(_status(rows, "bob/06_gru").values()) == {"not attempted"}
    wrong = [r for r in rows if r.student == "wrong"]  # after printing 50 MB (output capped)
    assert wrong[0].status == "failed" and wrong[0].points == 0
    assert "should be 12, got 9" in wrong[0].message
    assert wrong[1].status == "not attempted"


def test_grader_survives_hostile_and_broken_submissions(graded):
    rows, out, victim, course_copy, sandboxed = graded
    first = lambda student: next(r for r in rows if r.student == student)  # noqa: E731
    loop, exit_, syntax = [r for r in rows if r.student == "broken"][:3]
    assert loop.status == "error" and "time limit of 15 s" in loop.message
    assert exit_.status == "error" and "SystemExit" in exit_.message
    assert syntax.status == "error" and "SyntaxError" in syntax.message
    crash = [r for r in rows if r.student == "crash"]
    assert crash[0].status == "error" and "kernel died" in crash[0].message
    assert crash[1].status in ("error", "failed")  # exit(): the check never ran
    assert crash[2].status == "not attempted"  # graded in a fresh kernel
    hog = first("hog")  # 8 GiB, one MiB at a time, against the 3,072 MB limit
    assert hog.status == "error" and "MemoryError" in hog.message, hog
    assert first("notjson").status == "error" and "not JSON" in first("notjson").message
    assert "chapters [1]" in first("other_course").message
    if sandboxed:  # it passes only if it could delete nothing and reach no network
        assert first("vandal").status == "passed"
        assert victim.exists() and course_copy.exists()
        assert "namespaces" in (out / "isolation.txt").read_text()


def test_grader_writes_csv_and_one_feedback_file_per_submission(graded):
    rows, out, *_ = graded
    with open(out / "grades.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows)
    assert set(table[0]) == {"student", "notebook", "exercise", "title", "points", "max_points",
                             "status", "message"}
    feedback = sorted(p.name for p in (out / "feedback").glob("*.md"))
    assert "bob__06_gru.md" in feedback and "good.md" in feedback
    assert len(feedback) == len({r.student for r in rows})
    best = sum(r.max_points for r in rows if r.student == "good")
    assert f"{best} / {best} points" in (out / "feedback" / "good.md").read_text()


@pytest.fixture(scope="module")
def every_chapter_graded(tmp_path_factory):
    """Each chapter twice: with the reference solutions pasted in, and as the student version."""
    from rnncourse.instructor.grading import grade

    root = tmp_path_factory.mktemp("chapters")
    for path in NOTEBOOKS:
        notebook = load_notebook(path)
        for kind, version in (("solved", _solved(notebook)),
                              ("student", student_notebook(notebook)[0])):
            (root / "subs" / kind).mkdir(parents=True, exist_ok=True)
            (root / "subs" / kind / path.name).write_text(json.dumps(version))
    return grade(root / "subs", ROOT / "notebooks", root / "out", cell_timeout=120,
                 workers=2, show_progress=False)


def test_every_exercise_is_self_contained_and_its_solution_passes(every_chapter_graded):
    # the grader runs only the chapter's set-up cell before an exercise: a solution that
    # needs anything else from the chapter would fail here
    solved = [r for r in every_chapter_graded if r.student.startswith("solved/")]
    assert len({r.notebook for r in solved}) == len(NOTEBOOKS)
    failing = [f"{r.exercise}: {r.status}: {r.message[:200]}" for r in solved
               if r.status != "passed"]
    assert failing == []


def test_every_student_version_reports_not_attempted(every_chapter_graded):
    student = [r for r in every_chapter_graded if r.student.startswith("student/")]
    wrong = [f"{r.exercise}: {r.status}: {r.message[:200]}" for r in student
             if r.status != "not attempted"]
    assert student and wrong == []


def test_a_student_version_runs_end_to_end_under_nbval(tmp_path):
    """Chapter 2's student version, every exercise unsolved, executed whole by nbval: no cell
    fails, since a stub's check reports "not implemented yet" instead of raising. (One chapter:
    all thirteen would add the course's whole run time to CI. For the others, the static test
    below and the grader's not-attempted test cover the same two properties.)"""
    path = ROOT / "notebooks" / "02_forward_pass.ipynb"
    student, removed = student_notebook(load_notebook(path))
    assert removed == len(find_exercises(student)) >= 3
    (tmp_path / path.name).write_text(json.dumps(student))
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "--nbval-lax", "--nbval-cell-timeout=400", path.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(r"\b\d+ passed", done.stdout), done.stdout[-3000:]


def _names(source):
    """(names a cell defines, names it reads) — IPython magics and shell lines skipped."""
    import ast

    lines = source.splitlines()
    code = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
    tree = ast.parse(code)
    defined, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, ast.Store) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):  # function and lambda parameters
            defined.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
    return defined, read


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_student_version_needs_nothing_from_the_removed_solutions(path):
    # the student version runs top to bottom only if no later cell reads a name that only a
    # (removed) solution defined
    notebook = load_notebook(path)
    solution_cells = {i for e in find_exercises(notebook) for i in e.solution}
    defined_outside, defined_in_solutions, problems = set(), set(), []
    for i, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        defined, read = _names(cell_source(cell))
        if i in solution_cells:
            defined_in_solutions |= defined - defined_outside
            continue
        missing = (read & defined_in_solutions) - defined_outside - defined
        problems += [f"cell {i} reads {name!r}, defined only in a solution" for name in missing]
        defined_outside |= defined
    assert problems == []


def test_the_worker_process_imports_neither_torch_nor_the_iri_grammar():
    """Only the kernel needs torch (~2 s per submission in the worker too), and nbformat's
    jsonschema compiled an IRI grammar with lark (1.4 s per submission) the grader never uses."""
    from rnncourse.instructor import _worker
    from rnncourse.selfcheck import GRADE_LOG

    assert _worker.GRADE_LOG == GRADE_LOG
    probe = ("import sys, rnncourse.instructor._worker, rnncourse.instructor.grading, nbclient, "
             "nbformat; print(sorted(m for m in ('torch', 'lark') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
