"""Tools for instructors: list the exercises, write student versions, grade submissions.

The command line is ``rnncourse`` (installed with the package; see :mod:`.cli`)::

    rnncourse exercises notebooks/
    rnncourse student notebooks/ -o student/
    rnncourse grade submissions/ --course notebooks/ -o grades/

Grading needs ``nbclient``, ``nbformat`` and ``ipykernel`` (``pip install rnncourse[instructor]``).
"""

from rnncourse.instructor.catalog import Exercise, find_exercises, load_notebook

__all__ = ["Exercise", "find_exercises", "load_notebook"]
