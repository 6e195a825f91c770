"""Self-checks for chapter 4, "Vanishing and exploding gradients"."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..selfcheck import expect, expect_close, self_check

__all__ = ["check_pascanu_bound", "check_clip_by_norm", "check_orthogonal"]


@self_check("Exercise 4.1: Pascanu's bound")
def check_pascanu_bound(pascanu_bound: Callable[[torch.Tensor, float, int], tuple]) -> None:
    """``pascanu_bound(w_hh, gamma, lag) -> (lambda1, bound)`` with bound = (gamma*lambda1)**lag."""
    gen = torch.Generator().manual_seed(4)
    for gamma, lag in ((1.0, 10), (0.25, 7), (1.0, 0)):
        w = torch.randn(6, 6, generator=gen, dtype=torch.float64) / 2
        lam = torch.linalg.matrix_norm(w, ord=2)
        got = pascanu_bound(w.clone(), gamma, lag)
        expect(isinstance(got, tuple) and len(got) == 2,
               f"pascanu_bound should return a tuple (lambda1, bound), got {got!r}")
        expect_close(torch.as_tensor(float(got[0])), lam, "lambda1", rtol=1e-6,
                     hint="lambda1 is the largest *singular* value (torch.linalg.matrix_norm "
                          "with ord=2), not the largest eigenvalue")
        expect_close(torch.as_tensor(float(got[1])), (gamma * lam) ** lag,
                     f"the bound for gamma={gamma}, lag={lag}", rtol=1e-6,
                     hint="each of the `lag` step Jacobians has norm at most gamma * lambda1")


@self_check("Exercise 4.2: clipping by norm")
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
        for i, (mine, ref) in enumerate(zip(got, params)):
            expect_close(mine, ref.grad, f"clipped gradient {i} (scale {scale}, max_norm "
                         f"{max_norm})", atol=1e-6, rtol=1e-5,
                         hint="the norm is the global one over *all* tensors together, and a "
                              "gradient already shorter than max_norm is left unchanged")


@self_check("Exercise 4.3: an orthogonal initialiser")
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
