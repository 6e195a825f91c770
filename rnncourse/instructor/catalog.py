"""The course's exercises, read from the chapter notebooks.

Every exercise uses sphinx-exercise's gated form (see CONTRIBUTING.md)::

    ```{exercise-start}           markdown: the start, with ``:label: chNN-name``
    **★★ Title.** The task ...    markdown: the task, its stars and title
    def answer(...):              code: the learner's cell, ending with the self-check call
        raise NotImplementedError
    ```{exercise-end}             markdown
    ```{solution-start} chNN-name  markdown (``:class: dropdown``)
    ...                           code: the reference solution, asserting its check
    ```{solution-end}             markdown

:func:`find_exercises` returns one :class:`Exercise` per block, with the cell indices the
student-version and grading tools need. Points are the stars (★ = 1, ★★ = 2, ★★★ = 3).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Exercise", "NotebookFormatError", "find_exercises", "load_notebook", "setup_cells",
           "cell_source"]

_LABEL = re.compile(r"^:label:\s*(\S+)", re.M)
_CHAPTER = re.compile(r"^ch(\d+)-")
_STARS = re.compile(r"^[^★\w]*(★+)")  # "**★★ Title.**" or "★★ **Title.**"
_TITLE = re.compile(r"\*\*\s*(?:★+\s*)?(.+?)\*\*", re.S)
_CHECK_CALL = re.compile(r"\b(ch\d+)\.(check_\w+)\s*\(")


class NotebookFormatError(ValueError):
    """A notebook that is not valid JSON, or whose exercise blocks are malformed."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter notebook.

    ``cells`` are the indices of the learner's code cells (between the start and end markers),
    ``solution`` those of the reference solution's code cells; ``block`` and
    ``solution_block`` are the half-open index ranges of the whole blocks, markers included.
    ``checks`` name the self-checks the learner's cells call, e.g.
    ``("rnncourse.exercises.ch06.check_gru_step",)``.
    """

    label: str
    chapter: int
    title: str
    stars: int
    checks: tuple[str, ...]
    notebook: str
    cells: tuple[int, ...]
    solution: tuple[int, ...]
    block: tuple[int, int]
    solution_block: tuple[int, int]

    @property
    def points(self) -> int:
        return self.stars


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def load_notebook(path: str | Path) -> dict[str, Any]:
    """Read a notebook file as a dict; a clear :class:`NotebookFormatError` if it is not one."""
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookFormatError(f"{path.name} is not a Jupyter notebook "
                                  f"(not JSON: {exc})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise NotebookFormatError(f"{path.name} is not a Jupyter notebook (no list of cells)")
    for i, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise NotebookFormatError(f"{path.name}: cell {i} is not a notebook cell")
    return notebook


def _marker(cell: dict[str, Any]) -> str | None:
    """'exercise-start', 'exercise-end', 'solution-start' or 'solution-end', else None."""
    if cell["cell_type"] != "markdown":
        return None
    match = re.match(r"\s*```\{(exercise-start|exercise-end|solution-start|solution-end)\}",
                     cell_source(cell))
    return match.group(1) if match else None


def _code_cells(cells: list[dict[str, Any]], start: int, stop: int) -> tuple[int, ...]:
    return tuple(i for i in range(start, stop) if cells[i]["cell_type"] == "code")


def find_exercises(notebook: dict[str, Any], name: str = "") -> list[Exercise]:
    """Every exercise of ``notebook`` (a dict as read by :func:`load_notebook`), in order.

    Raises :class:`NotebookFormatError` naming the cell when a block is malformed (a start
    without its end, a solution for an unknown label, an exercise without a label or stars).
    """
    cells = notebook["cells"]
    where = f"{name}: " if name else ""
    open_blocks: dict[str, tuple[int, int]] = {}
    solutions: dict[str, tuple[int, int]] = {}
    order: list[str] = []
    i = 0
    while i < len(cells):
        kind = _marker(cells[i])
        if kind in ("exercise-end", "solution-end"):
            raise NotebookFormatError(f"{where}cell {i}: ```{{{kind}}} without its start")
        if kind in ("exercise-start", "solution-start"):
            end_kind = kind.replace("start", "end")
            j = next((k for k in range(i + 1, len(cells)) if _marker(cells[k]) is not None), None)
            if j is None or _marker(cells[j]) != end_kind:
                raise NotebookFormatError(f"{where}cell {i}: ```{{{kind}}} without "
                                          f"```{{{end_kind}}}")
            text = cell_source(cells[i])
            if kind == "exercise-start":
                match = _LABEL.search(text)
                if match is None:
                    raise NotebookFormatError(f"{where}cell {i}: an exercise without :label:")
                label = match.group(1)
                if label in open_blocks:
                    raise NotebookFormatError(f"{where}cell {i}: exercise label {label} repeated")
                open_blocks[label] = (i, j + 1)
                order.append(label)
            else:
                label = text.split("}", 1)[1].split()[0] if "}" in text else ""
                if label not in open_blocks:
                    raise NotebookFormatError(f"{where}cell {i}: solution for unknown exercise "
                                              f"{label!r}")
                solutions[label] = (i, j + 1)
            i = j + 1
            continue
        i += 1
    exercises = []
    for label in order:
        start, stop = open_blocks[label]
        body = "\n".join(cell_source(cells[k]) for k in range(start + 1, stop - 1))
        stars, title = _STARS.search(body.lstrip()), _TITLE.search(body)
        chapter = _CHAPTER.match(label)
        if stars is None or title is None or chapter is None:
            raise NotebookFormatError(f"{where}exercise {label}: expected a label chNN-name and "
                                      f"a task starting '**★ Title.**' or '★ **Title.**'")
        code = "\n".join(cell_source(cells[k]) for k in _code_cells(cells, start, stop))
        checks = tuple(dict.fromkeys(f"rnncourse.exercises.{module}.{fn}"
                                     for module, fn in _CHECK_CALL.findall(code)))
        solution_block = solutions.get(label, (stop, stop))
        exercises.append(Exercise(
            label=label, chapter=int(chapter.group(1)), title=title.group(1).strip().rstrip("."),
            stars=len(stars.group(1)), checks=checks, notebook=name,
            cells=_code_cells(cells, start, stop), solution=_code_cells(cells, *solution_block),
            block=(start, stop), solution_block=solution_block))
    return exercises


def setup_cells(notebook: dict[str, Any]) -> list[int]:
    """Indices of the chapter's set-up code cells: every code cell before the first section.

    The first section is the first markdown cell with a ``## `` heading; by the course's
    convention the cells before it are the Colab install cell and the imports/``runtime.setup``
    cell, which every exercise may rely on.
    """
    indices = []
    for i, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "markdown" and re.search(r"^## ", cell_source(cell), re.M):
            break
        if cell["cell_type"] == "code":
            indices.append(i)
    return indices
