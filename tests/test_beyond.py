"""Tests of rnncourse.beyond (chapter 13) and of its self-checks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rnncourse import beyond, text
from rnncourse.exercises import ch13
from rnncourse.validation import ShapeError


def _ab(T: int, shape: tuple[int, ...] = (3, 4), dtype: torch.dtype = torch.float64,
        seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    a = torch.rand((T, *shape), generator=gen, dtype=dtype) * 0.98 + 0.01
    b = torch.randn((T, *shape), generator=gen, dtype=dtype)
    h0 = torch.randn(shape, generator=gen, dtype=dtype)
    return a, b, h0


# --- linear recurrences ----------------------------------------------------------------------

@pytest.mark.parametrize("T", [1, 2, 3, 7, 64, 100])
@pytest.mark.parametrize("with_h0", [False, True])
def test_hillis_steele_scan_equals_the_loop(T: int, with_h0: bool) -> None:
    a, b, h0 = _ab(T, seed=T)
    h0 = h0 if with_h0 else None
    loop = beyond.linear_recurrence_loop(a, b, h0)
    assert loop.shape == (T, 3, 4)
    assert torch.allclose(beyond.linear_recurrence_scan(a, b, h0), loop, atol=1e-12, rtol=0)


def test_loop_is_the_recurrence_written_by_hand() -> None:
    a, b, h0 = _ab(3)
    h1 = a[0] * h0 + b[0]
    h2 = a[1] * h1 + b[1]
    assert torch.allclose(beyond.linear_recurrence_loop(a, b, h0)[1], h2)


@pytest.mark.parametrize("kind", beyond.SCAN_KINDS)
@pytest.mark.parametrize("T", [1, 2, 5, 8, 33, 100])
def test_every_schedule_computes_the_scan(kind: str, T: int) -> None:
    a, b, _ = _ab(T, seed=1)
    got = beyond.apply_schedule(a, b, beyond.scan_schedule(T, kind))
    assert torch.allclose(got, beyond.linear_recurrence_loop(a, b), atol=1e-12, rtol=0)


@pytest.mark.parametrize("T", [2, 16, 100, 1000, 4096])
def test_depth_and_work_of_the_scans(T: int) -> None:
    log_t = math.ceil(math.log2(T))
    assert beyond.dependent_steps(T, "sequential") == {"depth": T - 1, "work": T - 1}
    hs = beyond.dependent_steps(T, "hillis-steele")
    assert hs["depth"] == log_t and hs["work"] == sum(T - 2**k for k in range(log_t))
    bl = beyond.dependent_steps(T, "blelloch")
    assert bl["depth"] <= 2 * log_t and bl["work"] <= 2 * T


def test_log_space_scan_equals_the_loop_in_float64_with_any_h0() -> None:
    a, b, h0 = _ab(300)
    b = b.abs() + 0.01
    loop = beyond.linear_recurrence_loop(a, b, h0)
    assert torch.allclose(beyond.log_space_scan(a.log(), b.log(), h0), loop, atol=1e-12, rtol=0)


def test_float32_drift_and_its_float64_fix() -> None:
    gen = torch.Generator().manual_seed(0)
    T = 4096
    log_a = -nn.functional.softplus(torch.randn(T, 2, 8, generator=gen) + 1.0)
    log_b = torch.randn(T, 2, 8, generator=gen) * 0.5 - 1.0
    ref = beyond.linear_recurrence_loop(log_a.double().exp(), log_b.double().exp())
    drift = beyond.log_space_scan(log_a, log_b, accumulate=None)
    fixed = beyond.log_space_scan(log_a, log_b)
    assert fixed.dtype == torch.float32
    rel = lambda x: ((x.double() - ref).abs() / ref).max().item()  # noqa: E731
    assert rel(drift) > 1e-4 > 1e-6 > rel(fixed)


def test_naive_scan_is_exact_when_short_and_overflows_when_long() -> None:
    a, b, h0 = _ab(20)
    assert torch.allclose(beyond.naive_scan(a, b, h0), beyond.linear_recurrence_loop(a, b, h0))
    a, b, _ = _ab(400, dtype=torch.float32)
    assert not torch.isfinite(beyond.naive_scan(a * 0.5, b)).all()


def test_g_and_log_g() -> None:
    x = torch.linspace(-30, 5, 200, dtype=torch.float64)
    assert (beyond.g(x) > 0).all()
    assert torch.allclose(beyond.log_g(x), beyond.g(x).log(), atol=1e-12)
    assert beyond.g(torch.tensor(0.0)) == 0.5


@pytest.mark.parametrize("bad, match", [
    ((torch.ones(3, 2), torch.ones(3, 3)), "same shape"),
    ((torch.ones(3, 2), torch.ones(3, 2, dtype=torch.float64)), "one dtype"),
    (([1.0], torch.ones(1)), "floating-point torch.Tensor"),
    ((torch.ones(3, 2, dtype=torch.long), torch.ones(3, 2)), "floating-point"),
    ((torch.ones(0, 2), torch.ones(0, 2)), "T >= 1"),
])
def test_bad_inputs_are_named(bad: tuple, match: str) -> None:
    for fn in (beyond.linear_recurrence_loop, beyond.linear_recurrence_scan, beyond.naive_scan,
               beyond.log_space_scan):
        with pytest.raises((TypeError, ShapeError), match=match):
            fn(*bad)


def test_bad_h0_and_kind() -> None:
    with pytest.raises(ShapeError, match="h0 must be a tensor of shape"):
        beyond.linear_recurrence_loop(torch.ones(3, 2), torch.ones(3, 2), torch.ones(3))
    with pytest.raises(ValueError, match="kind must be one of"):
        beyond.scan_schedule(8, "bitonic")
    with pytest.raises(ValueError, match="positive integer"):
        beyond.scan_schedule(0)


# --- minGRU and minLSTM ----------------------------------------------------------------------

@pytest.mark.parametrize("cls", [beyond.MinGRU, beyond.MinLSTM])
@pytest.mark.parametrize("batch_first, bidirectional, num_layers, bias",
                         [(False, False, 1, True), (True, True, 2, True), (True, False, 3, False)])
def test_scan_equals_loop_outputs_states_and_gradients(cls, batch_first, bidirectional,
                                                       num_layers, bias) -> None:
    torch.manual_seed(0)
    scan = cls(5, 6, num_layers=num_layers, bias=bias, batch_first=batch_first,
               bidirectional=bidirectional, dtype=torch.float64)
    loop = cls(5, 6, num_layers=num_layers, bias=bias, batch_first=batch_first,
               bidirectional=bidirectional, mode="loop", dtype=torch.float64)
    loop.load_state_dict(scan.state_dict())
    x = torch.randn((4, 11, 5) if batch_first else (11, 4, 5), dtype=torch.float64)
    hx = torch.randn(num_layers * (2 if bidirectional else 1), 4, 6, dtype=torch.float64)
    for h in (None, hx):
        results = []
        for m in (scan, loop):
            xi = x.clone().requires_grad_(True)
            out, h_n = m(xi, h)
            (out.sin().sum() + h_n.cos().sum()).backward()
            results.append((out, h_n, xi.grad, [p.grad.clone() for p in m.parameters()]))
            m.zero_grad()
        (o1, n1, g1, p1), (o2, n2, g2, p2) = results
        assert torch.allclose(o1, o2, atol=1e-12) and torch.allclose(n1, n2, atol=1e-12)
        assert torch.allclose(g1, g2, atol=1e-10)
        assert all(torch.allclose(a, b, atol=1e-10) for a, b in zip(p1, p2))


def test_min_gru_parameters_and_shapes() -> None:
    m = beyond.MinGRU(3, 5, batch_first=True)
    assert [n for n, _ in m.named_parameters()] == ["weight_ih_l0", "bias_ih_l0"]
    assert m.weight_ih_l0.shape == (10, 3)
    out, h_n = m(torch.randn(2, 7, 3))
    assert out.shape == (2, 7, 5) and h_n.shape == (1, 2, 5)
    assert torch.allclose(out[:, -1], h_n[0], atol=1e-6)
    assert beyond.MinLSTM(3, 5).weight_ih_l0.shape == (15, 3)
    out, h_n = m(torch.randn(7, 3))                                    # unbatched
    assert out.shape == (7, 5) and h_n.shape == (1, 5)
    assert "mode='loop'" in repr(beyond.MinGRU(3, 5, mode="loop"))


def test_min_gru_cell_is_the_equation() -> None:
    gen = torch.Generator().manual_seed(0)
    x, h = torch.randn(2, 3, generator=gen), torch.randn(2, 4, generator=gen)
    w, b = torch.randn(8, 3, generator=gen), torch.randn(8, generator=gen)
    z = torch.sigmoid(x @ w[:4].T + b[:4])
    h_tilde = beyond.g(x @ w[4:].T + b[4:])
    assert torch.allclose(beyond.min_gru_cell(x, h, w, b), (1 - z) * h + z * h_tilde)


def test_min_gru_float32_scan_matches_float64_loop_at_length_4096() -> None:
    torch.manual_seed(0)
    m64 = beyond.MinGRU(4, 8, dtype=torch.float64, mode="loop")
    m32 = beyond.MinGRU(4, 8)
    m32.load_state_dict({k: v.float() for k, v in m64.state_dict().items()})
    x = torch.randn(4096, 2, 4, dtype=torch.float64)
    ref, _ = m64(x)
    got, _ = m32(x.float())
    assert (got.double() - ref).abs().max() < 1e-5


def test_min_rnn_bad_options_and_inputs() -> None:
    with pytest.raises(ValueError, match="mode must be 'scan'"):
        beyond.MinGRU(3, 5, mode="parallel")
    with pytest.raises(TypeError, match="accumulate"):
        beyond.MinGRU(3, 5, accumulate="float64")
    with pytest.raises(ShapeError, match="input_size=3"):
        beyond.MinGRU(3, 5)(torch.randn(4, 2, 7))


def test_min_gru_trains_as_a_char_lm() -> None:
    torch.manual_seed(0)
    ids = torch.arange(400) % 7                                   # a periodic stream
    lm = text.CharLM(7, beyond.MinGRU(7, 16, num_layers=2))
    history = beyond.train_char_model(lm, ids, steps=150, seq_len=16, batch=4, lr=3e-2,
                                      warmup=5, device=torch.device("cpu"))
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]


# --- attention -------------------------------------------------------------------------------

@pytest.mark.parametrize("norm_first", [True, False])
def test_written_out_block_equals_torch(norm_first: bool) -> None:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 4, 32, 0.0, batch_first=True,
                                       norm_first=norm_first).eval()
    x = torch.randn(2, 9, 16)
    mask = beyond.causal_mask(9)
    want = layer(x, src_mask=mask, is_causal=True)
    assert torch.allclose(beyond.transformer_block(x, layer, mask), want, atol=1e-5)


def test_written_out_attention_equals_multihead_attention() -> None:
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(12, 3, batch_first=True)
    x = torch.randn(2, 6, 12)
    mask = beyond.causal_mask(6)
    want, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    got = beyond.self_attention(x, mha.in_proj_weight, mha.in_proj_bias, mha.out_proj.weight,
                                mha.out_proj.bias, 3, mask)
    assert torch.allclose(got, want, atol=1e-6)


def test_char_transformer_is_causal_and_its_cache_matches() -> None:
    torch.manual_seed(0)
    model = beyond.CharTransformer(20, 16, 4, 2, 32, context=12).eval()
    ids = torch.randint(0, 20, (10, 3))
    full, _ = model(ids)
    changed = ids.clone()
    changed[6:] = (changed[6:] + 1) % 20
    assert torch.allclose(model(changed)[0][:6], full[:6], atol=1e-6)   # no peeking ahead
    cache, steps = None, []
    for t in range(10):
        logits, cache = model.step(ids[t], cache)
        steps.append(logits)
        assert beyond.state_bytes(cache) == beyond.kv_cache_bytes(2, 16, t + 1, batch=3)
    assert torch.allclose(torch.stack(steps), full, atol=1e-5)


def test_char_transformer_bad_inputs() -> None:
    model = beyond.CharTransformer(20, 16, 4, 1, 32, context=8)
    with pytest.raises(ShapeError, match="context is 8"):
        model(torch.zeros(9, 2, dtype=torch.long))
    with pytest.raises(ShapeError, match="torch.long"):
        model(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="multiple of nhead"):
        beyond.CharTransformer(20, 15, 4)


def test_sliding_bits_per_char_scores_every_character_once() -> None:
    class Uniform(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, ids, state=None):
            return torch.zeros(*ids.shape, 8) + self.w, None

    ids = torch.randint(0, 8, (500,))
    assert math.isclose(beyond.sliding_bits_per_char(Uniform(), ids, 32, 8), 3.0, rel_tol=1e-6)
    with pytest.raises(ValueError, match="stride"):
        beyond.sliding_bits_per_char(Uniform(), ids, 8, 32)


def test_memory_accounting() -> None:
    assert beyond.kv_cache_bytes(2, 64, 100, batch=3) == 2 * 2 * 64 * 100 * 3 * 4
    h = torch.zeros(2, 3, 64)
    assert beyond.state_bytes((h, h)) == 2 * 2 * 3 * 64 * 4


# --- self-checks -----------------------------------------------------------------------------

def _sequential(a, b, h0):
    h, out = h0, []
    for a_t, b_t in zip(a.unbind(0), b.unbind(0)):
        h = a_t * h + b_t
        out.append(h)
    return torch.stack(out)


def _log_scan(log_a, log_b):
    a_star = torch.cumsum(log_a.double(), 0)
    return torch.exp(a_star + torch.logcumsumexp(log_b.double() - a_star, 0)).to(log_a.dtype)


def _kv_answers():
    model = beyond.CharTransformer(50, 32, 4, 3, 64, context=64)
    ids = torch.randint(0, 50, (40, 5))
    cache, measured = None, []
    for t in range(40):
        _, cache = model.step(ids[t], cache)
        measured.append(beyond.state_bytes(cache))
    return measured, 2 * 3 * 32 * 5 * 4, 2 * 3 * 32 * 5 * 4


def test_checks_pass_on_reference_answers() -> None:
    assert ch13.check_sequential_scan(_sequential)
    assert ch13.check_log_space_scan(_log_scan)
    assert ch13.check_kv_cache_experiment(*_kv_answers())
    assert ch13.check_work_efficient_schedule(lambda T: beyond.scan_schedule(T, "blelloch"))


@pytest.mark.parametrize("wrong, message", [
    (lambda a, b, h0: _sequential(a, b, h0)[-1], "only the final state"),
    (lambda a, b, h0: _sequential(a, b, torch.zeros_like(h0)), "ignore h0"),
    (lambda a, b, h0: torch.cat([h0[None], _sequential(a, b, h0)[:-1]]), "shifted by one"),
    (lambda a, b, h0: _sequential(a, a * b, h0), "a_t (h_{t-1} + b_t)"),
    (lambda a, b, h0: _sequential(a, b, h0) + 1e-3, "differs from the reference"),
    (lambda a, b, h0: [1.0], "torch.Tensor"),
])
def test_sequential_scan_check_names_mistakes(wrong, message) -> None:
    result = ch13.check_sequential_scan(wrong)
    assert not result and message in result.message


def _drifting(log_a, log_b):
    a_star = torch.cumsum(log_a, 0)
    return torch.exp(a_star + torch.logcumsumexp(log_b - a_star, 0))


def _naive(log_a, log_b):
    return beyond.naive_scan(log_a.exp(), log_b.exp())


@pytest.mark.parametrize("wrong, message", [
    (_drifting, "accumulate the cumulative sums in float64"),
    (_naive, "inf or NaN"),
    (lambda la, lb: _log_scan(la, lb).double(), "return float32"),
    (lambda la, lb: _log_scan(la, lb)[-1], "shape"),
    (lambda la, lb: torch.exp(torch.logcumsumexp(lb, 0)), "differs from the reference"),
])
def test_log_space_check_names_mistakes(wrong, message) -> None:
    result = ch13.check_log_space_scan(wrong)
    assert not result and message in result.message


@pytest.mark.parametrize("change, message", [
    (lambda m, p, s: (None, p, s), "set measured"),
    (lambda m, p, s: ([v / 4 for v in m], p, s), "counts values, not bytes"),
    (lambda m, p, s: (m[:-1], p, s), "40 numbers"),
    (lambda m, p, s: (m, p / 2, s), "factor 2"),
    (lambda m, p, s: (m, p / 3, s), "num_layers"),
    (lambda m, p, s: (m, p / 5, s), "batch"),
    (lambda m, p, s: (m, p + 1, s), "should be 3840"),
    (lambda m, p, s: (m, p, s / 2), "(h, c)"),
    (lambda m, p, s: (m, "3840", s), "should be a number"),
])
def test_kv_cache_check_names_mistakes(change, message) -> None:
    result = ch13.check_kv_cache_experiment(*change(*_kv_answers()))
    assert not result and message in str(result)


@pytest.mark.parametrize("wrong, message", [
    (lambda T: beyond.scan_schedule(T, "sequential"), "rounds"),
    (lambda T: beyond.scan_schedule(T, "hillis-steele"), "work-efficient"),
    (lambda T: beyond.scan_schedule(T, "blelloch")[:-1], "does not compute the scan"),
    (lambda T: [[(t, t - 1)] for t in range(1, T)], "must come before"),
    (lambda T: "rounds", "list of rounds"),
])
def test_schedule_check_names_mistakes(wrong, message) -> None:
    result = ch13.check_work_efficient_schedule(wrong)
    assert not result and message in result.message


def test_checks_report_stubs_and_never_raise() -> None:
    def stub(*args):
        raise NotImplementedError

    for check in (ch13.check_sequential_scan, ch13.check_log_space_scan,
                  ch13.check_work_efficient_schedule):
        result = check(stub)
        assert not result and not result.attempted
    assert not ch13.check_kv_cache_experiment(None, None, None).attempted
    assert not ch13.check_sequential_scan(42)
    assert not ch13.check_kv_cache_experiment(object(), 1, 2)
