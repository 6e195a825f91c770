"""Switch the course's progress bars off while the book executes its notebooks.

Bars are for learners running a notebook; on the website they would be pages of stale
``|####  | 40/100`` lines. ``rnncourse.runtime.progress`` reads ``RNNCOURSE_NO_PROGRESS``, and
the kernels that Jupyter Book starts inherit this process's environment, so setting it here
covers every way of building the book (``scripts/book``, ``scripts/test`` or a plain
``jupyter-book build .``).
"""

from __future__ import annotations

import os
from typing import Any


def setup(app: Any) -> dict[str, Any]:
    os.environ["RNNCOURSE_NO_PROGRESS"] = "1"
    return {"parallel_read_safe": True, "parallel_write_safe": True}
