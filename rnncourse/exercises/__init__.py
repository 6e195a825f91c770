"""Self-checks for the exercises, one module per chapter: ``from rnncourse.exercises import ch02``.

Each ``check_*`` function takes the learner's answer (a value or a function), returns a
:class:`rnncourse.selfcheck.CheckResult` that prints a one-line verdict, and never raises.
"""
