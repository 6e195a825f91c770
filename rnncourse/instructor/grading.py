"""Grade a folder of submitted notebooks with the course's self-checks.

Each submission is graded without re-running its chapter: a fresh Jupyter kernel (real
nbclient/ipykernel machinery) runs the chapter's set-up cells *from the course's own
notebook*, then, for every exercise of the chapter, the learner's exercise cells from the
submission. The self-checks those cells call record their verdicts
(:data:`rnncourse.selfcheck.GRADE_LOG`), which become the grade: ``passed`` (full points),
``failed``, ``not attempted`` (the stub still raises ``NotImplementedError``) or ``error`` (the
cell crashed before its check, timed out, or the kernel died).

Isolation, per submission: its own process and temporary folder, a per-cell time limit and a
time limit for the whole submission (the process group is killed), a memory limit
(``RLIMIT_AS``), at most ``max_output_bytes`` of output kept per cell. On Linux with
unprivileged user namespaces (checked at run time with ``unshare``), it also runs in new user,
mount, network and PID namespaces: no network at all, and every file system read-only except
its own folder, so a submission that deletes files cannot touch another's folder, the course,
or the grader's output. Elsewhere the report says that only process isolation applied. The
grader protects itself and the other submissions from broken or destructive code; it does not
stop a determined student from forging their own verdict (their code runs in the process that
runs the check).
"""

from __future__ import annotations

import csv
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from rnncourse.instructor.catalog import (
    Exercise,
    NotebookFormatError,
    cell_source,
    find_exercises,
    load_notebook,
    setup_cells,
)

__all__ = ["Row", "grade", "sandbox_available", "course_catalog", "default_workers"]

STATUSES = ("passed", "failed", "not attempted", "error")


@dataclass(frozen=True)
class Row:
    """One line of the grade report."""

    student: str
    notebook: str
    exercise: str
    title: str
    points: int
    max_points: int
    status: str
    message: str


@dataclass(frozen=True)
class Chapter:
    path: Path
    setup: tuple[str, ...]
    exercises: tuple[Exercise, ...]


def course_catalog(course: str | Path) -> dict[int, Chapter]:
    """Every chapter notebook of the folder ``course``, by chapter number."""
    chapters = {}
    for path in sorted(Path(course).glob("*.ipynb")):
        notebook = load_notebook(path)
        exercises = find_exercises(notebook, path.name)
        if not exercises:
            continue
        setup = tuple(cell_source(notebook["cells"][i]) for i in setup_cells(notebook))
        chapters[exercises[0].chapter] = Chapter(path, setup, tuple(exercises))
    if not chapters:
        raise FileNotFoundError(f"no chapter notebooks with exercises in {course}")
    return chapters


def default_workers() -> int:
    """Submissions graded in parallel when not told: one per CPU core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


@functools.cache
def sandbox_available() -> bool:
    """Whether ``unshare`` can create user, mount, network and PID namespaces here."""
    if sys.platform != "linux" or shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    try:
        done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "--net",
                               "--pid", "--fork", "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _submissions(folder: Path) -> list[tuple[str, Path]]:
    """(name, path) of every notebook under ``folder``; the name is its relative path without
    ``.ipynb`` (``alice`` for ``alice.ipynb``, ``alice/06_gru`` for ``alice/06_gru.ipynb``)."""
    return [(path.relative_to(folder).with_suffix("").as_posix(), path)
            for path in sorted(folder.rglob("*.ipynb"))
            if ".ipynb_checkpoints" not in path.parts]


def _job(chapter: Chapter, notebook: dict[str, Any], name: str, cell_timeout: float,
         memory_mb: int, max_output_bytes: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The worker's job, and the exercises missing from the submission."""
    submitted = {e.label: e for e in find_exercises(notebook, name)}
    exercises, missing = [], {}
    for exercise in chapter.exercises:
        mine = submitted.get(exercise.label)
        if mine is None or not mine.cells:
            missing[exercise.label] = "exercise block not found in the submission"
            continue
        exercises.append({"label": exercise.label, "checks": list(exercise.checks),
                          "cells": [cell_source(notebook["cells"][i]) for i in mine.cells]})
    job = {"setup": list(chapter.setup), "exercises": exercises, "cell_timeout": cell_timeout,
           "memory_mb": memory_mb, "max_output_bytes": max_output_bytes}
    return job, missing


def _run_worker(job: dict[str, Any], time_limit: float, sandbox: bool) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="rnncourse-grade-"))
    try:
        command = [sys.executable, "-m", "rnncourse.instructor._worker", "--folder", str(folder)]
        if sandbox:
            command = ["unshare", "--user", "--map-root-user", "--mount", "--net", "--pid",
                       "--fork", "--kill-child", "--", *command, "--sandbox"]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True, cwd=folder)
        try:
            out, err = process.communicate(json.dumps(job).encode(), timeout=time_limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return {"error": f"the submission ran longer than the time limit of {time_limit:g} s"}
        try:
            return json.loads(out.decode("utf-8", errors="replace"))
        except json.JSONDecodeError:
            tail = err.decode("utf-8", errors="replace").strip().splitlines()[-3:]
            return {"error": "the grading process ended without a result (exit code "
                             f"{process.returncode}): {' | '.join(tail)}"}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _grade_one(student: str, path: Path, chapters: dict[int, Chapter], cell_timeout: float,
               time_limit: float, memory_mb: int, max_output_bytes: int, sandbox: bool
               ) -> tuple[list[Row], str]:
    def rows_for(chapter: Chapter, verdicts: dict[str, dict[str, str]]) -> list[Row]:
        rows = []
        for e in chapter.exercises:
            v = verdicts[e.label]
            rows.append(Row(student, path.name, e.label, e.title,
                            e.points if v["status"] == "passed" else 0, e.points,
                            v["status"], v["message"]))
        return rows

    def whole(message: str) -> list[Row]:
        return [Row(student, path.name, "-", "", 0, 0, "error", message)]

    try:
        notebook = load_notebook(path)
        numbers = {e.chapter for e in find_exercises(notebook, path.name)}
    except (NotebookFormatError, OSError) as exc:
        return whole(str(exc)), ""
    known = sorted(numbers & chapters.keys())
    if len(known) != 1:
        return whole(f"{path.name}: expected the exercises of one course chapter, found "
                     f"chapters {sorted(numbers) or 'none'}"), ""
    chapter = chapters[known[0]]
    job, missing = _job(chapter, notebook, path.name, cell_timeout, memory_mb, max_output_bytes)
    outcome = _run_worker(job, time_limit, sandbox) if job["exercises"] else {"results": {}}
    verdicts = {label: {"status": "not attempted", "message": m} for label, m in missing.items()}
    for exercise in job["exercises"]:
        verdicts[exercise["label"]] = outcome.get("results", {}).get(
            exercise["label"], {"status": "error", "message": outcome.get("error", "no result")})
    return rows_for(chapter, verdicts), outcome.get("isolation", "")


def _feedback(student: str, rows: list[Row]) -> str:
    total, best = sum(r.points for r in rows), sum(r.max_points for r in rows)
    mark = {"passed": "✅", "failed": "❌", "not attempted": "⬜", "error": "⚠️"}
    lines = [f"# Feedback for {student}", "", f"**{total} / {best} points**", ""]
    for r in rows:
        title = f"{r.exercise} — {r.title}" if r.title else r.notebook
        lines += [f"## {mark.get(r.status, '')} {title}", "",
                  f"{r.status}, {r.points}/{r.max_points} points. {r.message}", ""]
    return "\n".join(lines)


def grade(submissions: str | Path, course: str | Path, out: str | Path, *,
          cell_timeout: float = 60, time_limit: float = 300, memory_mb: int = 4096,
          max_output_bytes: int = 100_000, workers: int | None = None,
          sandbox: bool | None = None, show_progress: bool = True) -> list[Row]:
    """Grade every notebook under ``submissions`` against the chapters in ``course``.

    Writes ``out/grades.csv`` (student, notebook, exercise, title, points, max_points, status,
    message), ``out/feedback/<student>.md`` and returns the rows. ``sandbox=None`` uses
    namespaces where available; ``True`` requires them (``RuntimeError`` if unavailable).
    """
    from rnncourse.runtime import progress

    submissions, out = Path(submissions), Path(out)
    if not submissions.is_dir():
        raise NotADirectoryError(f"submissions must be a folder of notebooks, got {submissions}")
    chapters = course_catalog(course)
    if sandbox is None:
        sandbox = sandbox_available()
    elif sandbox and not sandbox_available():
        raise RuntimeError("sandbox=True, but user namespaces (unshare) are not available here")
    found = _submissions(submissions)
    workers = workers or default_workers()

    def one(item: tuple[str, Path]) -> tuple[list[Row], str]:
        return _grade_one(*item, chapters, cell_timeout, time_limit, memory_mb,
                          max_output_bytes, sandbox)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        graded = pool.map(one, found)
        if show_progress:
            graded = progress(graded, desc="grading", total=len(found))
        results = list(graded)
    rows = [row for student_rows, _ in results for row in student_rows]
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    with open(out / "grades.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=[field.name for field in fields(Row)])
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    for (student, _), (student_rows, _) in zip(found, results):
        name = student.replace("/", "__")
        (out / "feedback" / f"{name}.md").write_text(_feedback(student, student_rows),
                                                      encoding="utf-8")
    isolation = sorted({iso for _, iso in results if iso})
    (out / "isolation.txt").write_text("\n".join(isolation) + "\n", encoding="utf-8")
    return rows


def summary(rows: Iterable[Row]) -> str:
    """A short per-student table: points and the count of each status."""
    by_student: dict[str, list[Row]] = {}
    for r in rows:
        by_student.setdefault(r.student, []).append(r)
    lines = [f"{'student':<24} {'points':>8}  " + "  ".join(f"{s:>13}" for s in STATUSES)]
    for student, mine in by_student.items():
        points = f"{sum(r.points for r in mine)}/{sum(r.max_points for r in mine)}"
        counts = "  ".join(f"{sum(r.status == s for r in mine):>13}" for s in STATUSES)
        lines.append(f"{student:<24} {points:>8}  {counts}")
    return "\n".join(lines)
