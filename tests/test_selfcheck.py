import importlib
import importlib.util
import inspect
import pkgutil
import random
import re
import textwrap

import numpy as np
import pytest
import torch

import rnncourse.exercises
from rnncourse import runtime
from rnncourse.selfcheck import (
    CheckFailed,
    CheckResult,
    expect,
    expect_close,
    expect_equal,
    init_parameters,
    self_check,
)


@self_check("Exercise 0.1: double")
def check_double(fn):
    expect_equal(fn(2), 4, what="fn(2)", hint="multiply by two")


@self_check("Exercise 0.2: tanh step")
def check_step(fn):
    x = torch.linspace(-2, 2, 6).reshape(2, 3)
    expect_close(fn(x), torch.tanh(x), what="step(x)")


def test_correct_answer_passes_and_is_truthy():
    result = check_double(lambda v: 2 * v)
    assert isinstance(result, CheckResult) and result and result.passed
    assert str(result) == "✅ Exercise 0.1: double: correct"


def test_wrong_answer_fails_with_expected_value_and_hint():
    result = check_double(lambda v: v + 3)
    assert not result
    assert "fn(2) should be 4, got 5" in result.message and "multiply by two" in result.message
    assert str(result).startswith("❌")


def test_crashing_answer_is_reported_with_its_line_not_raised():
    def answer(v):
        return v / 0

    result = check_double(answer)
    assert not result
    assert "ZeroDivisionError" in result.message and "return v / 0" in result.message


def test_unimplemented_skeleton_says_so():
    def answer(v):
        raise NotImplementedError

    assert "not implemented yet" in check_double(answer).message


def test_close_check_reports_shape_and_largest_difference():
    assert check_step(torch.tanh)
    wrong_shape = check_step(lambda x: torch.tanh(x).T)
    assert "shape (2, 3), got (3, 2)" in wrong_shape.message
    off = check_step(lambda x: torch.tanh(x) + (x > 1.5) * 0.1)
    assert "largest difference 0.1" in off.message and "index (1, 2)" in off.message
    nan = check_step(lambda x: x * float("nan"))
    assert "NaN" in nan.message
    not_array = check_step(lambda x: "tanh")
    assert "array or tensor" in not_array.message


def test_expect_and_numpy_inputs():
    @self_check("numpy")
    def check(fn):
        expect(callable(fn), "pass a function")
        expect_close(fn(np.ones(3)), np.full(3, 2.0), what="fn(ones)")

    assert check(lambda a: a * 2)
    assert check(3).message == "pass a function"


def test_html_repr_is_escaped_and_coloured():
    html = check_double(lambda v: "<b>").__repr__()
    assert "<b>" in html
    assert "&lt;b&gt;" in check_double(lambda v: "<b>")._repr_html_()


# --------------------------------------------------------------------------- global random state

def _global_state():
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return torch.get_rng_state(), cuda, np.random.get_state(), random.getstate()


def _assert_same_state(before, after):
    torch_before, cuda_before, np_before, py_before = before
    torch_after, cuda_after, np_after, py_after = after
    assert torch.equal(torch_before, torch_after), "torch's global RNG state changed"
    assert len(cuda_before) == len(cuda_after)
    assert all(torch.equal(a, b) for a, b in zip(cuda_before, cuda_after)), "CUDA RNG changed"
    assert np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1])
    assert np_before[2:] == np_after[2:], "NumPy's global RNG state changed"
    assert py_before == py_after, "Python's random state changed"


def _scramble_global_state():
    """A state that is not a fresh seed, with NumPy's cached Gaussian half-used."""
    torch.manual_seed(2024)
    torch.rand(5)
    np.random.seed(7)
    np.random.randn(3)
    random.seed(11)
    random.random()


def _chapter_modules():
    names = sorted(info.name for info in pkgutil.iter_modules(rnncourse.exercises.__path__)
                   if re.fullmatch(r"ch\d\d", info.name))
    return [importlib.import_module(f"rnncourse.exercises.{name}") for name in names]


def _public_checks(module):
    return [(name, fn) for name, fn in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("check_") and fn.__module__ == module.__name__]


CHAPTERS = _chapter_modules()
CHECKS = [pytest.param(fn, id=f"{module.__name__.rsplit('.', 1)[1]}.{name}")
          for module in CHAPTERS for name, fn in _public_checks(module)]


def _stub(*args, **kwargs):
    raise NotImplementedError


def _draws_then_raises(*args, **kwargs):
    torch.manual_seed(0)            # a learner's answer may reseed or draw: not our business,
    torch.randn(3)                  # but the notebook must continue where it was
    np.random.seed(0)
    np.random.rand()
    random.seed(0)
    raise RuntimeError("boom")


def _draws_then_returns_garbage(*args, **kwargs):
    torch.rand(2)
    np.random.rand()
    random.random()
    return None


ANSWERS = {
    "stub": _stub,
    "returns-None": lambda *args, **kwargs: None,
    "returns-0": lambda *args, **kwargs: 0,
    "value-None": None,
    "value-0": 0,
    "draws-then-raises": _draws_then_raises,
    "draws-then-garbage": _draws_then_returns_garbage,
}


def test_every_chapter_and_its_checks_are_discovered():
    assert [m.__name__.rsplit(".", 1)[1] for m in CHAPTERS][:7] == [
        f"ch{n:02d}" for n in range(1, 8)]
    for module in CHAPTERS:
        assert len(_public_checks(module)) >= 3, module.__name__


def _n_required_positional(check):
    return sum(1 for p in inspect.signature(check).parameters.values()
               if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               and p.default is p.empty) or 1


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
@pytest.mark.parametrize("check", CHECKS)
def test_wrong_answers_fail_quietly_and_leave_the_global_random_state(check, answer):
    _scramble_global_state()
    before = _global_state()
    result = check(*[answer] * _n_required_positional(check))   # must not raise
    after = _global_state()
    assert isinstance(result, CheckResult) and not result and result.message
    _assert_same_state(before, after)


def test_a_right_answer_leaves_the_same_state_as_a_stub():
    from rnncourse.exercises import ch05, ch06, ch07

    for check, right in ((ch05.check_coupled_step, ch05._coupled_step_reference),
                         (ch06.check_minimal_gated_unit, ch06._mgu_reference),
                         (ch07.check_padded_bidirectional, ch07._packed_reference)):  # nn.GRUs
        _scramble_global_state()
        before = _global_state()
        assert check(right)
        _assert_same_state(before, _global_state())
        assert not check(_stub)
        _assert_same_state(before, _global_state())


@pytest.mark.parametrize("outcome", ["pass", "fail", "crash", "stub"])
def test_decorator_restores_state_whatever_the_outcome(outcome):
    @self_check("reseeds everything")
    def check(fn):
        torch.manual_seed(99)
        np.random.seed(99)
        random.seed(99)
        torch.randn(4), np.random.rand(), random.random()
        fn()

    answers = {"pass": lambda: None, "fail": lambda: expect(False, "no"),
               "crash": lambda: 1 / 0, "stub": _stub}
    _scramble_global_state()
    before = _global_state()
    result = check(answers[outcome])
    assert bool(result) is (outcome == "pass")
    _assert_same_state(before, _global_state())
    assert torch.equal(torch.rand(3), (_scramble_global_state(), torch.rand(3))[1])


def test_init_parameters_uses_only_the_generator():
    a, b = torch.nn.GRU(3, 4), torch.nn.GRU(3, 4)   # different default initialisations
    _scramble_global_state()
    before = _global_state()
    init_parameters(a, torch.Generator().manual_seed(1))
    _assert_same_state(before, _global_state())      # the fill drew from the generator only
    init_parameters(b, torch.Generator().manual_seed(1))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert all(0 < p.abs().max() <= 0.5 for p in a.parameters())   # 1/sqrt(hidden_size)
    with pytest.raises(ValueError, match="hidden_size"):
        init_parameters(torch.nn.Linear(2, 2), torch.Generator())
    small = init_parameters(torch.nn.Linear(2, 2), torch.Generator(), bound=0.1)
    assert all(p.abs().max() <= 0.1 for p in small.parameters())


# ----------------------------------------------------------------------------- exports

@pytest.mark.parametrize("module", CHAPTERS, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_chapters_export_only_their_checks(module):
    exported = list(module.__all__)
    assert exported and all(name.startswith("check_") for name in exported), exported
    assert sorted(exported) == sorted(name for name, _ in _public_checks(module))
    public_functions = [name for name, fn in inspect.getmembers(module, inspect.isfunction)
                        if fn.__module__ == module.__name__ and not name.startswith("_")]
    assert all(name.startswith("check_") for name in public_functions), public_functions


# ------------------------------------------------------------------- where the learner failed

def test_learner_file_under_a_folder_named_rnncourse_is_named(tmp_path):
    folder = tmp_path / "rnncourse" / "notebooks"
    folder.mkdir(parents=True)
    (folder / "learner.py").write_text(textwrap.dedent("""\
        def answer(v):
            scale = 0
            return v / scale
        """))
    spec = importlib.util.spec_from_file_location("learner_under_rnncourse",
                                                  folder / "learner.py")
    learner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(learner)
    result = check_double(learner.answer)
    assert not result and "ZeroDivisionError" in result.message
    assert "(in answer, line 3: return v / scale)" in result.message


def test_frames_inside_the_package_are_skipped_for_the_learners_line():
    def answer(v):
        return runtime.get_device("tpu")  # raises inside rnncourse/runtime.py

    result = check_double(answer)
    assert "ValueError" in result.message
    assert 'line' in result.message and 'runtime.get_device("tpu")' in result.message


def test_check_failed_is_not_reported_as_a_crash():
    @self_check("direct")
    def check(fn):
        raise CheckFailed("plain message")

    assert check(None).message == "plain message"


def test_unimplemented_is_not_attempted_and_others_are():
    def stub(v):
        raise NotImplementedError

    assert check_double(stub).attempted is False
    assert check_double(lambda v: v).attempted and check_double(lambda v: 2 * v).attempted


def test_an_endless_loop_in_the_learners_code_fails_after_the_time_limit():
    import signal
    import time

    @self_check("Exercise 0.3: loops", time_limit=0.3)
    def check_loop(fn):
        fn()

    def endless():
        while True:
            pass

    start = time.perf_counter()
    result = check_loop(endless)
    assert not result and "longer than 0.3 s" in result.message
    assert time.perf_counter() - start < 5
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)  # the alarm is cleared
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL  # and its handler restored
    assert check_loop(lambda: None)  # a quick answer passes


def test_the_grade_log_records_each_verdict(tmp_path, monkeypatch):
    import json

    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("RNNCOURSE_GRADE_LOG", str(log))
    check_double(lambda v: 2 * v)
    check_double(lambda v: v)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["passed"] for e in entries] == [True, False]
    assert entries[0]["check"].endswith("test_selfcheck.check_double")
    monkeypatch.setenv("RNNCOURSE_GRADE_LOG", str(tmp_path / "missing" / "x.jsonl"))
    assert check_double(lambda v: 2 * v)  # an unwritable log never raises


def test_an_unanswered_value_is_not_attempted_rather_than_failed():
    from rnncourse.selfcheck import expect_answered

    @self_check("Exercise 0.4: a value")
    def check_value(answer):
        expect_answered(answer is not None, "not answered yet: set answer")
        expect_equal(answer, 3, what="answer")

    stub, wrong, right = check_value(None), check_value(2), check_value(3)
    assert not stub and not stub.attempted and "not answered yet" in stub.message
    assert not wrong and wrong.attempted
    assert right and right.attempted
