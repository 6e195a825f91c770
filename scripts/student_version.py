#!/usr/bin/env python3
"""Write student versions of chapter notebooks: every solution removed, exercises kept.

Usage:
    python scripts/student_version.py notebooks/02_forward_pass.ipynb [more.ipynb ...] -o out/

A solution is the run of cells from a markdown cell starting with ```{solution-start} to the
one starting with ```{solution-end}, both included (sphinx-exercise's gated form). The
exercise text and its self-check cell stay, so students can check their own answers.
Outputs are cleared. (sphinx-exercise's `hide_solutions` option crashes on gated solutions,
so the course does this itself.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def strip_solutions(notebook: dict) -> tuple[dict, int]:
    """Return a copy of ``notebook`` without solution blocks, and how many were removed."""
    kept, removed, inside = [], 0, False
    for cell in notebook["cells"]:
        text = _source(cell).lstrip()
        if cell["cell_type"] == "markdown" and text.startswith("```{solution-start}"):
            if inside:
                raise ValueError("a solution-start inside another solution")
            inside, removed = True, removed + 1
            continue
        if cell["cell_type"] == "markdown" and text.startswith("```{solution-end}"):
            if not inside:
                raise ValueError("a solution-end without its solution-start")
            inside = False
            continue
        if not inside:
            if cell["cell_type"] == "code":
                cell = {**cell, "outputs": [], "execution_count": None}
            kept.append(cell)
    if inside:
        raise ValueError("a solution-start without its solution-end")
    return {**notebook, "cells": kept}, removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        student, removed = strip_solutions(json.loads(path.read_text()))
        target = args.out / path.name
        target.write_text(json.dumps(student, indent=1, ensure_ascii=False) + "\n")
        print(f"{target}: {removed} solutions removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
