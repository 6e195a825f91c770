"""The ``rnncourse`` command: list exercises, write student/solutions versions, grade.

    rnncourse exercises notebooks/                      # every exercise: chapter, stars, points
    rnncourse student notebooks/06_gru.ipynb -o student/ [--only ch06-gru-step] [--nbgrader]
    rnncourse solutions notebooks/*.ipynb -o solutions/
    rnncourse grade submissions/ --course notebooks/ -o grades/
    rnncourse examples notebooks/06_gru.ipynb -o submissions/ -n 30   # to try the grader

(``python -m rnncourse.instructor`` is the same command.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rnncourse.instructor.catalog import NotebookFormatError, find_exercises, load_notebook

__all__ = ["main"]


def _notebooks(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(path.glob("*.ipynb"))
        elif path.suffix == ".ipynb" and path.exists():
            found.append(path)
        else:
            raise FileNotFoundError(f"{path}: not a notebook or a folder of notebooks")
    return found


def _write(notebook: dict, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _exercises(args: argparse.Namespace) -> int:
    rows = []
    for path in _notebooks(args.paths):
        rows += find_exercises(load_notebook(path), path.name)
    print(f"{'chapter':>7}  {'label':<28} {'stars':<5} {'points':>6}  title")
    for e in rows:
        print(f"{e.chapter:>7}  {e.label:<28} {'★' * e.stars:<5} {e.points:>6}  {e.title}")
    print(f"{len(rows)} exercises, {sum(e.points for e in rows)} points")
    return 0


def _student(args: argparse.Namespace) -> int:
    from rnncourse.instructor.student import student_notebook

    only = set(args.only) if args.only else None
    for path in _notebooks(args.paths):
        notebook = load_notebook(path)
        labels = {e.label for e in find_exercises(notebook, path.name)}
        mine = None if only is None else only & labels
        if mine is not None and not mine:
            continue
        student, removed = student_notebook(notebook, only=mine, nbgrader=args.nbgrader,
                                            name=path.name)
        _write(student, args.out / path.name)
        print(f"{args.out / path.name}: {removed} solutions removed")
    return 0


def _solutions(args: argparse.Namespace) -> int:
    from rnncourse.instructor.student import solutions_notebook

    for path in _notebooks(args.paths):
        target = args.out / f"{path.stem}_solutions.ipynb"
        _write(solutions_notebook(load_notebook(path), path.name), target)
        print(target)
    return 0


def _grade(args: argparse.Namespace) -> int:
    from rnncourse.instructor.grading import default_workers, grade, summary

    start = time.perf_counter()
    rows = grade(args.submissions, args.course, args.out, cell_timeout=args.cell_timeout,
                 time_limit=args.time_limit, memory_mb=args.memory_mb, workers=args.workers,
                 sandbox=True if args.sandbox else None)
    seconds = time.perf_counter() - start
    print(summary(rows))
    students = len({r.student for r in rows})
    print(f"\n{students} submission{'s' * (students != 1)} graded in {seconds:.1f} s, "
          f"{args.workers or default_workers()} at a time")
    print(f"{args.out / 'grades.csv'}, feedback in {args.out / 'feedback'}; isolation: "
          f"{(args.out / 'isolation.txt').read_text().strip() or 'n/a'}")
    return 0


def _examples(args: argparse.Namespace) -> int:
    from rnncourse.instructor.examples import example_submissions

    plan = example_submissions(args.notebook, args.out, n=args.n, seed=args.seed)
    print(f"{len(plan)} example submissions in {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnncourse", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("exercises", help="list the exercises of chapter notebooks")
    p.add_argument("paths", nargs="+", type=Path, help="notebooks or folders")
    p.set_defaults(run=_exercises)

    p = commands.add_parser("student", help="write student versions (solutions removed)")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    p.add_argument("--only", nargs="+", metavar="LABEL", help="keep only these exercises")
    p.add_argument("--nbgrader", action="store_true", help="add nbgrader cell metadata")
    p.set_defaults(run=_student)

    p = commands.add_parser("solutions", help="write solutions-only notebooks for instructors")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("-o", "--out", type=Path, required=True)
    p.set_defaults(run=_solutions)

    p = commands.add_parser("grade", help="grade a folder of submitted notebooks")
    p.add_argument("submissions", type=Path)
    p.add_argument("--course", type=Path, required=True, help="folder of the course notebooks")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--cell-timeout", type=float, default=60, help="seconds per cell (60)")
    p.add_argument("--time-limit", type=float, default=300, help="seconds per submission (300)")
    p.add_argument("--memory-mb", type=int, default=4096, help="address-space limit (4096)")
    p.add_argument("--workers", type=int, default=None, help="submissions in parallel")
    p.add_argument("--sandbox", action="store_true",
                   help="require namespace isolation (fail if unavailable)")
    p.set_defaults(run=_grade)

    p = commands.add_parser("examples", help="write example submissions to try the grader")
    p.add_argument("notebook", type=Path, help="a course notebook")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("-n", type=int, default=30, help="number of submissions (30)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=_examples)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (FileNotFoundError, NotADirectoryError, NotebookFormatError, ValueError,
            RuntimeError) as exc:
        print(f"rnncourse {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
