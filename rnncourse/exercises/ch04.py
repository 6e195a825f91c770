"""Self-checks for chapter 4, "Vanishing and exploding gradients".

- :func:`check_growth_prediction` (★★) — predict the per-step growth factor of the gradient of a
  tanh RNN with :math:`W_{hh} = \\rho Q` from its forward pass, checked against the measured one
- :func:`check_clip_by_norm` (★) — gradient-norm clipping from the formula
- :func:`check_orthogonal` (★★) — a uniformly random orthogonal initialiser (distribution test)
- :func:`check_exploding_matrix` (★★★) — a ReLU RNN that explodes although
  :math:`\\rho(W_{hh}) < 1`
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .. import vanishing as V
from ..selfcheck import expect, expect_answered, expect_close, init_parameters, self_check

__all__ = ["check_growth_prediction", "check_clip_by_norm", "check_orthogonal",
           "check_exploding_matrix"]


def _measured_factor(rnn: nn.RNN, x: torch.Tensor, start: int = 20) -> float:
    """Per-step factor of ||dL/dh_k|| (L = sum of h_T), fitted between lag ``start`` and T."""
    g = V.gradient_norms_by_lag(rnn, x)                     # index k; lag T - k
    return (g[0] / g[-1 - start]).item() ** (1 / (len(g) - 1 - start))


def _growth_cases() -> list[tuple[nn.RNN, torch.Tensor, float]]:
    """Random float64 tanh RNNs with W_hh = rho Q: small, medium and saturating radii."""
    gen = torch.Generator().manual_seed(41)
    cases = []
    for k, (low, high) in enumerate(((0.7, 1.0), (1.3, 1.6), (1.4, 1.6), (0.9, 1.2))):
        hidden, inputs = (48, 64, 96, 64)[k], 1 + k % 3
        rho = low + (high - low) * torch.rand(1, generator=gen).item()
        scale = 0.5 + torch.rand(1, generator=gen).item()
        rnn = init_parameters(nn.RNN(inputs, hidden, batch_first=True).double(), gen)
        with torch.no_grad():
            rnn.weight_hh_l0.copy_(V.random_orthogonal(hidden, rho, gen))
        x = scale * torch.randn(32, 80, inputs, generator=gen, dtype=torch.float64)
        cases.append((rnn, x, rho))
    return cases


def _slopes(rnn: nn.RNN, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        h = torch.stack(V.hidden_states(rnn, x)[1:])        # (T, batch, hidden)
    return 1 - h * h                                        # tanh'(a_t)


@self_check("Exercise 4.1 (★★): predict the lag slope")
def check_growth_prediction(predict_factor: Callable[[nn.RNN, torch.Tensor], float]) -> None:
    """``predict_factor(rnn, x) -> float``: the per-step factor of ||dL/dh_k||, predicted.

    Four random tanh RNNs (``W_hh = rho Q``, rho between 0.7 and 1.6, 48 to 96 units, random
    input scale); the prediction must be within 3 % of the factor measured by autograd
    between lags 20 and 80.
    """
    for rnn, x, rho in _growth_cases():
        answer = predict_factor(rnn, x.clone())
        try:
            got = float(answer)
        except (TypeError, ValueError, RuntimeError):
            got = None
        expect(got is not None and math.isfinite(got),
               f"predict_factor should return one finite number, got {answer!r}")
        want = _measured_factor(rnn, x)
        if abs(got / want - 1) < 0.03:
            continue
        slopes = _slopes(rnn, x)
        mistakes = [
            (rho, "you returned rho alone: the slopes tanh'(a_t) < 1 of the units shrink "
                  "every backward step (J_t = diag(f'(a_t)) W_hh)"),
            (rho * slopes.mean().item(), "rho x the *mean* slope is close but low: the norm adds "
                                         "squares, so average tanh'(a_t)^2 and take the root"),
            (rho ** 2 * slopes.square().mean().item(), "that is the factor of the *squared* norm: "
                                                       "take the square root"),
            (math.log(want), "you returned the natural log of the factor (the slope of ln ||g||); "
                             "return the factor itself"),
            (math.log10(want), "you returned log10 of the factor; return the factor itself"),
        ]
        hint = "for W_hh = rho Q, one backward step multiplies ||g||^2 by rho^2 times an " \
               "average of tanh'(a_t)^2 over the units (Q^T keeps norms)"
        for value, message in mistakes:
            if math.isfinite(value) and abs(got - value) <= 0.01 * abs(value) + 0.005:
                hint = message
                break
        expect(False, f"for a network with rho = {rho:.3f} you predicted {got:.4g}, the measured "
                      f"per-step factor is {want:.4g} (more than 3 % apart). Hint: {hint}")


@self_check("Exercise 4.2 (★): clipping by norm")
def check_clip_by_norm(clip_by_norm: Callable[[list[torch.Tensor], float], list[torch.Tensor]]
                       ) -> None:
    """``clip_by_norm(grads, max_norm)`` must match ``torch.nn.utils.clip_grad_norm_``."""
    gen = torch.Generator().manual_seed(2)
    for scale, max_norm in ((10.0, 1.0), (0.01, 1.0), (3.0, 0.5)):
        grads = [scale * torch.randn(4, 3, generator=gen), scale * torch.randn(5, generator=gen)]
        params = [nn.Parameter(torch.zeros_like(g)) for g in grads]
        for p, g in zip(params, grads):
            p.grad = g.clone()
        nn.utils.clip_grad_norm_(params, max_norm)
        got = clip_by_norm([g.clone() for g in grads], max_norm)
        expect(isinstance(got, (list, tuple)) and len(got) == len(grads),
               f"clip_by_norm should return a list of {len(grads)} tensors, got {type(got)}")
        total = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))
        variants = [  # common mistakes, each with the hint that names it
            ([g * min(1.0, max_norm / (float(g.norm()) + 1e-6)) for g in grads],
             "you clipped each tensor by its own norm: the norm is the global one over *all* "
             "tensors together, so that the direction of the whole gradient is kept"),
            ([g * (max_norm / (total + 1e-6)) for g in grads],
             "you rescaled a gradient that was already shorter than max_norm: the factor is "
             "min(1, c / ||g||), so short gradients are left unchanged"),
            ([g.clamp(-max_norm, max_norm) for g in grads],
             "that is clipping by value (clamping each entry); clip by the global norm instead"),
        ]
        hint = ("the norm is the global one over *all* tensors together, and a gradient already "
                "shorter than max_norm is left unchanged")
        for wrong, message in variants:
            if all(isinstance(m, torch.Tensor) and m.shape == w.shape
                   and torch.allclose(m.detach().double(), w.double(), atol=1e-6, rtol=1e-5)
                   for m, w in zip(got, wrong)) and not all(
                       torch.allclose(w, r.grad, atol=1e-6, rtol=1e-5)
                       for w, r in zip(wrong, params)):
                hint = message
                break
        for i, (mine, ref) in enumerate(zip(got, params)):
            expect_close(mine, ref.grad, f"clipped gradient {i} (scale {scale}, max_norm "
                         f"{max_norm})", atol=1e-6, rtol=1e-5, hint=hint)


@self_check("Exercise 4.3 (★★): an orthogonal initialiser")
def check_orthogonal(orthogonal: Callable[[int, float, torch.Generator], torch.Tensor]) -> None:
    """``orthogonal(size, gain, generator)``: gain times a random orthogonal matrix."""
    for size, gain in ((5, 1.0), (16, 0.9), (3, 2.0)):
        q = orthogonal(size, gain, torch.Generator().manual_seed(size))
        expect(isinstance(q, torch.Tensor), f"orthogonal should return a tensor, got {type(q)}")
        expect(tuple(q.shape) == (size, size),
               f"orthogonal({size}, ...) should have shape ({size}, {size}), got {tuple(q.shape)}")
        qd = q.detach().double()
        expect_close(qd.T @ qd, gain**2 * torch.eye(size, dtype=torch.float64),
                     f"Q^T Q for size {size}, gain {gain}", atol=1e-4, rtol=1e-4,
                     hint="orthogonalise a random matrix (torch.linalg.qr) and multiply by gain")
    a = orthogonal(8, 1.0, torch.Generator().manual_seed(0))
    b = orthogonal(8, 1.0, torch.Generator().manual_seed(1))
    expect(not torch.allclose(a, b), "two different generators gave the same matrix: the result "
           "must be random (draw it with the generator you are given)")
    expect(not torch.allclose(a.abs(), torch.eye(8)), "the identity (or a signed identity) is "
           "orthogonal but not random: draw a random matrix and orthogonalise it")
    again = orthogonal(8, 1.0, torch.Generator().manual_seed(0))
    expect(torch.equal(torch.as_tensor(a), torch.as_tensor(again)),
           "the same generator seed gave two different matrices: draw with the generator you "
           "are given (torch.randn(..., generator=generator)), not the global random state")
    # Distribution test over many draws: for a uniformly random (Haar) orthogonal matrix,
    # Q[0, 0] is positive half of the time and the mean trace is 0. A single draw cannot show
    # a biased sign; 400 can (the binomial spread of the fraction is 0.025).
    draws = torch.stack([torch.as_tensor(orthogonal(6, 1.0, torch.Generator().manual_seed(100 + s)))
                         .detach().double() for s in range(400)])
    positive = (draws[:, 0, 0] > 0).double().mean().item()
    trace = torch.diagonal(draws, dim1=1, dim2=2).sum(-1).mean().item()
    expect(0.4 < positive < 0.6 and abs(trace) < 0.3,
           f"over 400 draws of a 6 x 6 matrix, Q[0, 0] was positive in {positive:.0%} of them "
           f"and the mean trace was {trace:.2f}; for a uniformly random orthogonal matrix they "
           "are 50 % and 0. Did you forget the sign fix? QR's sign convention biases Q: "
           "multiply column j of Q by the sign of R[j, j]")


@self_check("Exercise 4.4 (★★★): an explosion with rho(W_hh) < 1")
def check_exploding_matrix(w_hh: torch.Tensor) -> None:
    """``w_hh``: a square matrix with spectral radius below 1 whose ReLU RNN still explodes.

    The recurrence ``h_t = relu(w_hh h_{t-1} + x_t)`` from ``h_0 = 0``, with inputs ``x_t``
    drawn uniformly from [0, 1) (three random batches of 16 sequences), must reach a mean
    ``||h_60||`` above 1e4.
    """
    expect_answered(w_hh is not None, "not implemented yet: set w_hh to your matrix")
    expect(isinstance(w_hh, torch.Tensor), f"w_hh should be a tensor, got {type(w_hh).__name__}")
    expect(w_hh.dim() == 2 and w_hh.shape[0] == w_hh.shape[1] and w_hh.shape[0] >= 1,
           f"w_hh should be a square matrix (n, n), got shape {tuple(w_hh.shape)}")
    w = w_hh.detach().double()
    expect(bool(torch.isfinite(w).all()), "w_hh contains NaN or infinity")
    rho = torch.linalg.eigvals(w).abs().max().item()
    expect(rho < 1, f"rho(w_hh) = {rho:.4f}: the point is an explosion with spectral radius "
                    "below 1 (scale your matrix down until it is)")
    gen = torch.Generator().manual_seed(7)
    for _ in range(3):
        x = torch.rand(16, 60, w.shape[0], generator=gen, dtype=torch.float64)
        h = torch.zeros(16, w.shape[0], dtype=torch.float64)
        for x_t in x.unbind(1):
            h = torch.relu(h @ w.T + x_t)
        size = h.norm(dim=-1).mean().item()
        active = h > 0
        masked = max(V.spectral_radius(d.double()[:, None] * w) for d in active)
        hint = ("find a set S of units and a matrix whose block W_SS has spectral radius above 1 "
                "while the other units are driven negative (inactive), so the masked product "
                "D_t W_hh sees only W_SS")
        if w.shape[0] == 1:
            hint = "with one unit, rho(W) is |w|: you need at least two units"
        expect(size > 1e4, f"rho(w_hh) = {rho:.3f} < 1, good, but the states stayed small: mean "
                           f"||h_60|| = {size:.3g} (rho(D_60 W_hh) = {masked:.3f}). Hint: {hint}")
