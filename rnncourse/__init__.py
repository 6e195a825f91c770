"""rnncourse: the support package of the course "Recurrent Neural Networks, from first
principles to practice".

One module per chapter topic, so that the code a chapter builds is found in one file:

- :mod:`rnncourse.runtime` — device choice, seeding, progress bars (every chapter)
- :mod:`rnncourse.plotting` — the course's colour-blind-safe plotting style
- :mod:`rnncourse.selfcheck` — the mechanism behind exercise self-checks
- :mod:`rnncourse.validation` — input checks with messages that name the expected shape
- :mod:`rnncourse.tasks` — synthetic long-dependency tasks (adding problem, copy memory)
- :mod:`rnncourse.exercises` — one module of self-checks per chapter (``ch01``, ``ch02``, ...)

Chapter modules are added next to these as the course grows.
"""

__version__ = "0.1.0"
