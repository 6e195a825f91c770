"""How long the grader takes for a class: N example submissions of one chapter.

Writes ``N`` example submissions (``rnncourse.instructor.examples``: a mix of solved, stub,
wrong and broken exercises), grades them with ``rnncourse.instructor.grading.grade`` and
prints the wall time, the time per submission and the status counts. Example::

    python benchmarks/grading_speed.py --chapter notebooks/06_gru.ipynb -n 30 --workers 2
    python benchmarks/grading_speed.py --chapter notebooks/*.ipynb     # every chapter in turn

Each submission costs one kernel start, the chapter's imports and its exercise cells; on a
2-core machine two workers are about twice as fast as one.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

from rnncourse.instructor.examples import example_submissions
from rnncourse.instructor.grading import grade, sandbox_available


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapter", type=Path, nargs="+",
                        default=[Path("notebooks/06_gru.ipynb")], help="course notebooks")
    parser.add_argument("-n", type=int, default=30, help="submissions (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="in parallel (default 2)")
    args = parser.parse_args(argv)
    for chapter in args.chapter:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "course").mkdir()
            (root / "course" / chapter.name).write_text(chapter.read_text())
            example_submissions(chapter, root / "subs", n=args.n)
            start = time.perf_counter()
            rows = grade(root / "subs", root / "course", root / "out", workers=args.workers)
            seconds = time.perf_counter() - start
        counts = collections.Counter(r.status for r in rows)
        print(f"{args.n} submissions of {chapter.name}, {args.workers} workers, "
              f"sandbox={sandbox_available()}: {seconds:.1f} s ({seconds / args.n:.2f} s each); "
              f"{dict(counts)}", flush=True)


if __name__ == "__main__":
    main()
