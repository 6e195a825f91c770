"""Self-checks for exercises: run the learner's answer, compare with a reference, explain.

A check never raises at the learner. It returns a :class:`CheckResult` that prints as one
line (``✅ ...`` or ``❌ ...`` with the reason) and that is truthy only when the answer is right.
An exception inside the learner's code becomes part of the message, with the line that failed,
instead of a traceback through the package. A check leaves Python's, NumPy's and torch's
global random states exactly as it found them (passed, failed or crashed), so running one
does not change the numbers a notebook draws next.

Writing a check (in ``rnncourse/exercises/chNN.py``)::

    @self_check("Exercise 2.1: parameter count")
    def check_param_count(count_params):
        got = count_params(input_size=3, hidden_size=5)
        expect_equal(got, 3 * 5 + 5 * 5 + 5 + 5, what="count_params(3, 5)",
                     hint="count W_xh, W_hh and both bias vectors")

Inside a check, ``expect_*`` helpers raise :class:`CheckFailed` with a learner-facing message;
the decorator turns that (and any other exception) into a failed :class:`CheckResult`.
Notebooks assert their own reference solutions with ``assert check_x(solution)``.
"""

from __future__ import annotations

import functools
import json
import os
import random
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["CheckResult", "CheckFailed", "NotAttempted", "self_check", "expect",
           "expect_answered", "expect_equal", "expect_close", "init_parameters"]


class CheckFailed(Exception):
    """Raised inside a check with a message for the learner."""


class NotAttempted(CheckFailed):
    """Raised inside a check when the learner has not answered yet (a stub, ``None``)."""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of a self-check: truthy when passed, prints as a one-line verdict."""

    name: str
    passed: bool
    message: str
    attempted: bool = True  # False when the learner's code still raises NotImplementedError

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "✅" if self.passed else "❌"
        return f"{mark} {self.name}: {self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = "#009E73" if self.passed else "#D55E00"
        text = str(self).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f'<pre style="color:{colour};white-space:pre-wrap">{text}</pre>'


@functools.cache
def _library_dirs() -> tuple[Path, ...]:
    """Where rnncourse, torch and numpy really are: their frames are not the learner's."""
    import rnncourse

    return tuple(Path(module.__file__).resolve().parent for module in (rnncourse, torch, np))


def _is_library_file(filename: str) -> bool:
    if filename.startswith("<"):  # "<string>", "<stdin>", "<ipython-input-...>"
        return False
    try:
        path = Path(filename).resolve()
    except (OSError, RuntimeError, ValueError):  # pragma: no cover - unresolvable name
        return False
    return any(path.is_relative_to(directory) for directory in _library_dirs())


def _where_it_failed(exc: BaseException) -> str:
    """The innermost frame outside the rnncourse, torch and numpy packages: the learner's line.

    Decided by where those packages are installed, not by folder names, so a learner whose
    own folder is called ``rnncourse`` (or ``torch``) still gets their line.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if not _is_library_file(frame.filename):
            return f" (in {frame.name}, line {frame.lineno}: {frame.line})"
    return ""


@contextmanager
def _preserved_random_state() -> Iterator[None]:
    """Restore Python's, NumPy's and torch's (CPU and CUDA) global random states on exit.

    A check, or the learner's code it runs, may draw from or reseed the global generators;
    afterwards the learner's notebook continues with the stream it had, whether the check
    passed, failed or crashed.
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


class CheckTimeout(Exception):
    """The learner's code ran past the check's time limit."""


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CheckTimeout` in the main thread after ``seconds`` (Unix only).

    Does nothing where that is impossible (Windows, a non-main thread) or when the program
    already uses the real-time alarm, which it must keep.
    """
    usable = (seconds and hasattr(signal, "SIGALRM")
              and threading.current_thread() is threading.main_thread()
              and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
              and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None))
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CheckTimeout(f"your code ran longer than {seconds:g} s (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def self_check(name: str, time_limit: float | None = 60
               ) -> Callable[[Callable[..., None]], Callable[..., CheckResult]]:
    """Turn a function that raises on a wrong answer into a check returning a CheckResult.

    ``time_limit``: seconds the check (with the learner's code it calls) may run before it
    fails with "your code ran longer than ..." instead of hanging the notebook (Unix).
    """

    def decorate(check: Callable[..., None]) -> Callable[..., CheckResult]:
        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> CheckResult:
            with _preserved_random_state():
                result = _outcome(*args, **kwargs)
            _record(check, result)
            return result

        def _outcome(*args: Any, **kwargs: Any) -> CheckResult:
            try:
                with _time_limit(time_limit):
                    check(*args, **kwargs)
            except CheckTimeout as timeout:
                return CheckResult(name, False, str(timeout))
            except NotAttempted as stub:
                return CheckResult(name, False, str(stub), attempted=False)
            except CheckFailed as failure:
                return CheckResult(name, False, str(failure))
            except NotImplementedError:
                return CheckResult(name, False, "not implemented yet: replace the "
                                   "`raise NotImplementedError` with your code", attempted=False)
            except Exception as exc:  # the learner's code crashed: say where, not a traceback
                return CheckResult(name, False, f"your code raised {type(exc).__name__}: "
                                   f"{exc}{_where_it_failed(exc)}")
            return CheckResult(name, True, "correct")

        return run

    return decorate


GRADE_LOG = "RNNCOURSE_GRADE_LOG"


def _record(check: Callable[..., None], result: CheckResult) -> None:
    """Append the result to the file named by ``$RNNCOURSE_GRADE_LOG``, when it is set.

    The course's grader (:mod:`rnncourse.instructor.grading`) sets it in the kernel that runs
    a submission; learners never need it. A log that cannot be written is ignored: a check
    never raises.
    """
    path = os.environ.get(GRADE_LOG)
    if not path:
        return
    entry = {"check": f"{check.__module__}.{check.__name__}", "name": result.name,
             "passed": result.passed, "attempted": result.attempted, "message": result.message}
    try:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry, ensure_ascii=False) + "\n")
    except OSError:
        pass


def init_parameters(module: torch.nn.Module, generator: torch.Generator,
                    bound: float | None = None) -> torch.nn.Module:
    """Redraw every parameter of ``module`` uniformly in ``[-bound, bound]`` from ``generator``.

    ``bound`` defaults to PyTorch's choice for recurrent layers, ``1/sqrt(hidden_size)``. Checks
    use this instead of ``torch.manual_seed``: their cases are reproducible and the learner's
    global random stream is not touched. Returns ``module``.
    """
    if bound is None:
        hidden_size = getattr(module, "hidden_size", None)
        if not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"{type(module).__name__} has no hidden_size: pass bound")
        bound = hidden_size ** -0.5
    with torch.no_grad():
        for param in module.parameters():
            param.uniform_(-bound, bound, generator=generator)
    return module


def expect(condition: bool, message: str) -> None:
    """Fail the check with ``message`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(message)


def expect_answered(answered: bool, message: str) -> None:
    """Report "not attempted" (not a failure) with ``message`` unless ``answered``.

    For answers that are values rather than functions: the skeleton's ``None`` or empty
    answer is a stub, like a function that raises ``NotImplementedError``.
    """
    if not answered:
        raise NotAttempted(message)


def expect_number(value: Any, what: str) -> float:
    """``value`` as a finite float: a Python or NumPy number, or a one-element tensor or array.

    Fails naming ``what`` and the type received otherwise (a string, ``True``, ``nan``, ...).
    """
    if (isinstance(value, torch.Tensor) and value.numel() == 1
            or isinstance(value, np.ndarray) and value.size == 1):
        value = value.item()
    expect(isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool),
           f"{what} should be a number, got {type(value).__name__}")
    value = float(value)
    expect(np.isfinite(value), f"{what} should be a finite number, got {value}")
    return value


def expect_fraction(value: Any, what: str) -> float:
    """Like :func:`expect_number`, for an accuracy or share: a number in [0, 1] (a value
    above 1 is named as a percentage)."""
    value = expect_number(value, what)
    expect(value <= 1.0, f"{what} = {value:g}: give it as a fraction in [0, 1], not a percentage")
    expect(value >= 0.0, f"{what} = {value:g}: a fraction lies in [0, 1]")
    return value


def expect_equal(got: Any, want: Any, what: str, hint: str = "") -> None:
    """Fail unless ``got == want`` (for ints, strings, tuples, ...)."""
    if got != want:
        raise CheckFailed(f"{what} should be {want!r}, got {got!r}" + (f". Hint: {hint}" if hint
                                                                        else ""))


def _as_numpy(value: Any, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} should be an array or tensor, got "
                          f"{type(value).__name__}") from None


def expect_close(got: Any, want: Any, what: str, atol: float = 1e-6, rtol: float = 1e-5,
                 hint: str = "") -> None:
    """Fail unless arrays/tensors ``got`` and ``want`` have one shape and close values."""
    g, w = _as_numpy(got, what), _as_numpy(want, what)
    suffix = f". Hint: {hint}" if hint else ""
    if g.shape != w.shape:
        raise CheckFailed(f"{what} should have shape {tuple(w.shape)}, got {tuple(g.shape)}"
                          + suffix)
    if not np.all(np.isfinite(g)):
        raise CheckFailed(f"{what} contains NaN or infinity" + suffix)
    err = np.abs(g - w)
    if not np.all(err <= atol + rtol * np.abs(w)):
        worst = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
        raise CheckFailed(f"{what} differs from the reference: largest difference "
                          f"{err.max():.3g} at index {tuple(int(i) for i in worst)} "
                          f"(got {g[worst]:.6g}, expected {w[worst]:.6g})" + suffix)
