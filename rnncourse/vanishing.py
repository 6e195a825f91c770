r"""Vanishing and exploding gradients in a plain RNN: measure them, bound them, tame them (ch. 4).

For the single-layer RNN :math:`h_t = f(a_t)`, :math:`a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1}
+ b_{hh}`, the gradient that reaches an early state is a product of step Jacobians:

.. math::

    \frac{\partial h_t}{\partial h_{t-1}} = \operatorname{diag}\big(f'(a_t)\big) W_{hh},
    \qquad
    \frac{\partial h_T}{\partial h_k} = \prod_{t=k+1}^{T} \operatorname{diag}\big(f'(a_t)\big)
    W_{hh},
    \qquad
    \frac{\partial L}{\partial h_k} = \Big(\frac{\partial h_T}{\partial h_k}\Big)^{\!\top}
    \frac{\partial L}{\partial h_T}.

With :math:`|f'| \le \gamma` (:math:`\gamma = 1` for tanh and ReLU, :math:`1/4` for the
sigmoid) and :math:`\lambda_1` the largest singular value of :math:`W_{hh}`, every factor has
norm at most :math:`\eta = \gamma \lambda_1`, so
:math:`\lVert \partial h_T / \partial h_k \rVert_2 \le \eta^{T-k}`: if :math:`\lambda_1 < 1/\gamma`
the gradient vanishes geometrically (a *sufficient* condition); :math:`\lambda_1 > 1/\gamma` is
*necessary* for it to explode (Pascanu, Mikolov and Bengio, 2013).

Contents:

- :func:`pascanu_condition` — :math:`\lambda_1`, :math:`\gamma` and the bound :math:`\eta^{T-k}`
- :func:`spectral_radius`, :func:`random_orthogonal` (returns a new matrix) and, in place,
  :func:`set_spectral_radius_`, :func:`orthogonal_init_`, :func:`identity_init_` — control the
  recurrent matrix of an ``nn.RNN``
- :func:`hidden_states` — the RNN step by step, every :math:`h_k` a tensor that can keep its
  gradient (not chapter 1's :func:`rnncourse.sequences.unroll`, which returns the stacked
  outputs of the bare recurrence)
- :func:`gradient_norms_by_lag` (autograd) and :func:`jacobian_products` /
  :func:`jacobian_product_norms` (explicit products), which must agree
- :func:`input_gradient_norms` — :math:`\lVert \partial L / \partial x_t \rVert` of any model
- :func:`fixed_points_1d` — the fixed points of a one-unit RNN and their stability (the
  bifurcations behind Pascanu et al.'s cliffs)
- :func:`clip_by_norm`, :func:`clip_by_value`, :func:`cosine_similarity`,
  :func:`suggest_clip_threshold`, :func:`first_divergence` — gradient clipping, from the formula

Shapes follow :class:`torch.nn.RNN` with ``batch_first=True``: ``x`` is
``(batch, seq_len, input_size)``; hidden states are ``(batch, hidden_size)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .forward import spectral_radius  # chapter 2's; re-exported: rho(W) <= lambda_1
from .validation import check_array

__all__ = [
    "GAMMA", "PascanuCondition", "pascanu_condition", "largest_singular_value",
    "spectral_radius", "set_spectral_radius_", "random_orthogonal", "orthogonal_init_",
    "identity_init_", "hidden_states", "gradient_norms_by_lag", "step_jacobians",
    "jacobian_products", "jacobian_product_norms", "input_gradient_norms", "fixed_points_1d",
    "global_norm",
    "clip_by_norm", "clip_by_value", "cosine_similarity", "suggest_clip_threshold",
    "first_divergence",
]

#: Upper bound of :math:`|f'|` for each nonlinearity: :math:`\gamma` in Pascanu et al. (2013).
GAMMA: dict[str, float] = {"tanh": 1.0, "relu": 1.0, "sigmoid": 0.25}


# --------------------------------------------------------------------------- the condition
def _check_square(matrix: torch.Tensor, name: str) -> None:
    check_array(matrix, name, ("rows", "cols"))
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"{name} must be square (hidden_size, hidden_size), "
                         f"got shape {tuple(matrix.shape)}")


def _check_nonlinearity(nonlinearity: str) -> str:
    if nonlinearity not in GAMMA:
        raise ValueError(f"nonlinearity must be one of {sorted(GAMMA)}, got {nonlinearity!r}")
    return nonlinearity


def largest_singular_value(matrix: torch.Tensor) -> float:
    r"""The spectral norm :math:`\lambda_1 = \lVert W \rVert_2` of a square matrix."""
    _check_square(matrix, "matrix")
    return float(torch.linalg.matrix_norm(matrix.detach().double(), ord=2))


@dataclass(frozen=True)
class PascanuCondition:
    r"""Pascanu et al.'s conditions for one recurrent matrix and nonlinearity.

    Attributes:
        lambda1: largest singular value of :math:`W_{hh}`.
        gamma: bound on :math:`|f'|` (1 for tanh/ReLU, 1/4 for the sigmoid).
    """

    lambda1: float
    gamma: float

    @property
    def threshold(self) -> float:
        r""":math:`1/\gamma`, the value :math:`\lambda_1` is compared with."""
        return 1.0 / self.gamma

    @property
    def eta(self) -> float:
        r""":math:`\eta = \gamma \lambda_1`, a bound on the norm of every step Jacobian."""
        return self.gamma * self.lambda1

    @property
    def vanishing_guaranteed(self) -> bool:
        r"""Sufficient condition for vanishing: :math:`\lambda_1 < 1/\gamma`."""
        return self.lambda1 < self.threshold

    @property
    def explosion_possible(self) -> bool:
        r"""Necessary condition for exploding: :math:`\lambda_1 > 1/\gamma`."""
        return self.lambda1 > self.threshold

    def bound(self, lag: int | torch.Tensor) -> torch.Tensor:
        r""":math:`\eta^{\text{lag}}`, the bound on :math:`\lVert\partial h_T/\partial h_k\rVert_2`
        at lag :math:`T - k`."""
        return torch.as_tensor(self.eta, dtype=torch.float64) ** torch.as_tensor(lag)


def pascanu_condition(w_hh: torch.Tensor, nonlinearity: str = "tanh") -> PascanuCondition:
    r"""Evaluate :math:`\lambda_1(W_{hh})` against :math:`1/\gamma` for ``nonlinearity``.

    Args:
        w_hh: recurrent matrix ``(hidden_size, hidden_size)``.
        nonlinearity: ``"tanh"``, ``"relu"`` or ``"sigmoid"``.
    """
    gamma = GAMMA[_check_nonlinearity(nonlinearity)]
    return PascanuCondition(largest_singular_value(w_hh), gamma)


# ------------------------------------------------------------------ initialising W_hh
def _check_rnn(rnn: nn.Module) -> nn.RNN:
    if not isinstance(rnn, nn.RNN):
        raise TypeError(f"rnn must be a torch.nn.RNN, got {type(rnn).__name__}")
    if rnn.num_layers != 1 or rnn.bidirectional:
        raise ValueError("this function handles a single-layer, unidirectional nn.RNN; got "
                         f"num_layers={rnn.num_layers}, bidirectional={rnn.bidirectional}")
    return rnn


def set_spectral_radius_(rnn: nn.RNN, radius: float) -> nn.RNN:
    r"""Rescale ``rnn.weight_hh_l0`` in place so that its spectral radius equals ``radius``.

    The eigenvectors are kept; only the scale changes. Returns ``rnn``.
    """
    _check_rnn(rnn)
    if not radius > 0 or not math.isfinite(radius):
        raise ValueError(f"radius must be a positive number, got {radius!r}")
    with torch.no_grad():
        w = rnn.weight_hh_l0
        w.mul_(radius / spectral_radius(w))
    return rnn


def random_orthogonal(size: int, gain: float = 1.0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    r"""A random orthogonal matrix times ``gain``, drawn uniformly (Haar measure).

    QR-decompose a standard Gaussian matrix :math:`A = QR` and flip the sign of each column
    of :math:`Q` where :math:`R_{ii} < 0` (Mezzadri, 2007), so :math:`Q^\top Q = I` and every
    singular value of the result is ``gain``.

    Returns:
        Tensor of shape ``(size, size)``, ``float32``.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    a = torch.randn(size, size, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))
    return (gain * q).float()


def orthogonal_init_(rnn: nn.RNN, gain: float = 1.0,
                     generator: torch.Generator | None = None) -> nn.RNN:
    r"""Set :math:`W_{hh}` to ``gain`` times a random orthogonal matrix (Saxe et al., 2014).

    All singular values of :math:`W_{hh}` become ``gain``: with ``gain = 1`` the linear part of
    the recurrence preserves norms exactly. The other parameters are left as they are.
    """
    _check_rnn(rnn)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(random_orthogonal(rnn.hidden_size, gain, generator))
    return rnn


def identity_init_(rnn: nn.RNN, scale: float = 1.0) -> nn.RNN:
    r"""The IRNN initialisation of Le et al. (2015): :math:`W_{hh} = s I`, both biases zero.

    Meant for ``nonlinearity="relu"``: with non-negative states and zero bias, each step copies
    the state and adds the input, so at initialisation the gradient neither vanishes nor
    explodes along active units. :math:`W_{ih}` is left as it is.
    """
    _check_rnn(rnn)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(scale * torch.eye(rnn.hidden_size))
        rnn.bias_hh_l0.zero_()
        rnn.bias_ih_l0.zero_()
    return rnn


# ------------------------------------------------------------------- step-by-step RNN
def _activation(nonlinearity: str) -> Callable[[torch.Tensor], torch.Tensor]:
    return {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[nonlinearity]


def _derivative(nonlinearity: str, a: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """f'(a) written with the output h = f(a) where that is cheaper."""
    if nonlinearity == "tanh":
        return 1 - h * h
    if nonlinearity == "sigmoid":
        return h * (1 - h)
    return (a > 0).to(a.dtype)


def _run(rnn: nn.RNN, x: torch.Tensor, h0: torch.Tensor | None,
         nonlinearity: str | None) -> tuple[list[torch.Tensor], list[torch.Tensor], str]:
    _check_rnn(rnn)
    check_array(x, "x", ("batch", "seq_len", "input_size"), {"input_size": rnn.input_size})
    nonlinearity = _check_nonlinearity(nonlinearity or rnn.nonlinearity)
    f = _activation(nonlinearity)
    if not rnn.batch_first:
        x = x.transpose(0, 1)
    batch = x.shape[0]
    w_ih, w_hh = rnn.weight_ih_l0, rnn.weight_hh_l0
    bias = rnn.bias_ih_l0 + rnn.bias_hh_l0 if rnn.bias else torch.zeros_like(w_hh[0])
    if h0 is None:
        h = x.new_zeros(batch, rnn.hidden_size)
    else:
        check_array(h0, "h0", ("batch", "hidden_size"),
                    {"batch": batch, "hidden_size": rnn.hidden_size})
        h = h0
    states, preacts = [h], []
    drive = x @ w_ih.T + bias  # (batch, seq_len, hidden): the input part of every a_t
    # unbind, not drive[:, t]: the backward of one unbind writes each step's gradient into one
    # buffer, where each indexing op's backward would allocate a full-size zero tensor (a
    # backward quadratic in seq_len).
    for drive_t in drive.unbind(1):
        a = drive_t + h @ w_hh.T
        h = f(a)
        preacts.append(a)
        states.append(h)
    return states, preacts, nonlinearity


def hidden_states(rnn: nn.RNN, x: torch.Tensor, h0: torch.Tensor | None = None,
                  nonlinearity: str | None = None) -> list[torch.Tensor]:
    r"""Run a single-layer ``nn.RNN`` one step at a time with its own weights.

    Unlike the fused ``rnn(x)``, every state is a separate node of the autograd graph, so
    ``h.retain_grad()`` exposes :math:`\partial L/\partial h_k`.

    Args:
        rnn: single-layer, unidirectional ``nn.RNN`` (``batch_first`` either way).
        x: ``(batch, seq_len, input_size)`` if ``rnn.batch_first`` else
            ``(seq_len, batch, input_size)``.
        h0: initial state ``(batch, hidden_size)``; zeros when omitted.
        nonlinearity: override ``rnn.nonlinearity`` (``"sigmoid"`` is allowed here, for the
            theory; ``nn.RNN`` itself only offers tanh and ReLU).

    Returns:
        ``[h_0, h_1, ..., h_T]``, ``T + 1`` tensors of shape ``(batch, hidden_size)``.
    """
    return _run(rnn, x, h0, nonlinearity)[0]


def gradient_norms_by_lag(rnn: nn.RNN, x: torch.Tensor,
                          loss_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
                          nonlinearity: str | None = None) -> torch.Tensor:
    r""":math:`\lVert \partial L / \partial h_k \rVert` for :math:`k = 0, \dots, T`, by autograd.

    The loss is ``loss_fn(h_T)`` summed over the batch (default: the sum of the entries of
    :math:`h_T`, i.e. a fixed read-out direction), so each row of
    :math:`\partial L/\partial h_k` is one sequence's gradient. Returns the mean over the batch
    of the row norms, shape ``(T + 1,)``, ``float64`` (the norms are taken in float64 so that
    tiny float32 gradients do not underflow); entry ``k`` has lag ``T - k``.
    """
    _check_rnn(rnn)
    check_array(x, "x", ("batch", "seq_len", "input_size"))
    batch = x.shape[1] if not rnn.batch_first else x.shape[0]
    h0 = x.new_zeros(batch, rnn.hidden_size, requires_grad=True)
    states = hidden_states(rnn, x, h0=h0, nonlinearity=nonlinearity)
    loss = (loss_fn or torch.sum)(states[-1])
    if loss.dim() != 0:
        raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
    grads = torch.autograd.grad(loss, states)  # leaves the parameters' .grad untouched
    # norms in float64: float32 entries of 1e-20 have squares of 1e-40, below float32's
    # smallest normal number, so a float32 norm would be 0 (subnormals are flushed)
    return torch.stack([g.double().norm(dim=-1).mean() for g in grads]).detach()


def _one_sequence(rnn: nn.RNN, x: torch.Tensor) -> torch.Tensor:
    """Accept (seq_len, input_size) or a batch of one; return the batched layout rnn expects."""
    if isinstance(x, torch.Tensor) and x.dim() == 2:
        x = x.unsqueeze(0 if rnn.batch_first else 1)
    check_array(x, "x", ("batch", "seq_len", "input_size") if rnn.batch_first else
                ("seq_len", "batch", "input_size"), {"batch": 1})
    return x


def step_jacobians(rnn: nn.RNN, x: torch.Tensor,
                   nonlinearity: str | None = None) -> torch.Tensor:
    r"""The step Jacobians :math:`J_t = \operatorname{diag}(f'(a_t))\, W_{hh}`, :math:`t = 1..T`.

    Args:
        x: one sequence, ``(seq_len, input_size)`` or a batch of one.

    Returns:
        ``(T, hidden_size, hidden_size)``; ``J[t - 1] = ∂h_t/∂h_{t-1}``.
    """
    x = _one_sequence(rnn, x)
    with torch.no_grad():
        states, preacts, nl = _run(rnn, x, None, nonlinearity)
        w_hh = rnn.weight_hh_l0
        return torch.stack([_derivative(nl, a[0], h[0])[:, None] * w_hh
                            for a, h in zip(preacts, states[1:])])


def jacobian_products(rnn: nn.RNN, x: torch.Tensor,
                      nonlinearity: str | None = None) -> torch.Tensor:
    r""":math:`P_k = \partial h_T / \partial h_k = J_T J_{T-1} \cdots J_{k+1}` for
    :math:`k = 0..T`.

    Computed backwards, :math:`P_T = I`, :math:`P_{k} = P_{k+1} J_{k+1}`, in float64.

    Returns:
        ``(T + 1, hidden_size, hidden_size)``; entry ``k`` has lag ``T - k``.
    """
    jac = step_jacobians(rnn, x, nonlinearity).double()
    steps, size = jac.shape[0], jac.shape[1]
    products = [torch.eye(size, dtype=torch.float64)]
    for t in range(steps - 1, -1, -1):
        products.append(products[-1] @ jac[t])
    return torch.stack(products[::-1])


def jacobian_product_norms(rnn: nn.RNN, x: torch.Tensor,
                           nonlinearity: str | None = None) -> torch.Tensor:
    r"""Spectral norms :math:`\lVert \partial h_T/\partial h_k \rVert_2`, :math:`k = 0..T`."""
    return torch.linalg.matrix_norm(jacobian_products(rnn, x, nonlinearity), ord=2)


def input_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                         loss_fn: Callable[..., torch.Tensor] = nn.functional.mse_loss
                         ) -> torch.Tensor:
    r""":math:`\lVert \partial L / \partial x_t \rVert` per position, averaged over the batch.

    ``L = loss_fn(model(x), y, reduction="sum")`` so each row is one sequence's gradient. This
    works through fused modules such as ``nn.RNN`` because ``x`` is a leaf of the graph.

    Args:
        model: maps ``(batch, seq_len, input_size)`` to predictions.
        x: inputs ``(batch, seq_len, input_size)``.
        y: targets accepted by ``loss_fn``.

    Returns:
        ``(seq_len,)``, ``float64``.
    """
    check_array(x, "x", ("batch", "seq_len", "input_size"))
    was_training = model.training
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    loss_fn(model(x), y, reduction="sum").backward()
    model.train(was_training)
    return x.grad.double().norm(dim=-1).mean(dim=0).detach()  # float64: no underflow


def fixed_points_1d(weight: float, bias: float, nonlinearity: str = "tanh",
                    grid: int = 20_001) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Fixed points :math:`h^* = f(w h^* + b)` of a one-unit RNN without input; their stability.

    The roots of :math:`F(h) = f(wh + b) - h` are bracketed by sign changes on a fine grid of
    :math:`h \in (-1, 1)` (tanh) or :math:`(0, 1)` (sigmoid) and refined by bisection. A fixed
    point is stable when the step Jacobian there, :math:`w\,f'(w h^* + b)`, has modulus below 1.

    Example:
        >>> points, stable = fixed_points_1d(2.0, 0.0)   # -0.957 (stable), 0 (unstable), 0.957
        >>> stable.tolist()
        [True, False, True]

    Returns:
        ``(points, stable)``: ``float64`` tensor of the fixed points in increasing order and a
        ``bool`` tensor, both of shape ``(number of fixed points,)``.
    """
    if _check_nonlinearity(nonlinearity) == "relu":
        raise ValueError("fixed_points_1d handles the bounded nonlinearities tanh and sigmoid, "
                         "got 'relu'")
    for name, value in (("weight", weight), ("bias", bias)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise TypeError(f"{name} must be a finite number, got {value!r}")
    f = _activation(nonlinearity)
    low = -1.0 if nonlinearity == "tanh" else 0.0
    h = torch.linspace(low, 1.0, grid, dtype=torch.float64)[1:-1]              # open interval
    F = f(weight * h + bias) - h                                                # (grid - 2,)
    left = torch.nonzero((F[:-1] <= 0) != (F[1:] <= 0)).flatten()
    a, b = h[left], h[left + 1]                                                 # brackets
    for _ in range(60):                                                         # bisection
        mid = (a + b) / 2
        same = (f(weight * mid + bias) - mid <= 0) == (f(weight * a + bias) - a <= 0)
        a, b = torch.where(same, mid, a), torch.where(same, b, mid)
    points = (a + b) / 2
    out = f(weight * points + bias)
    slope = weight * _derivative(nonlinearity, weight * points + bias, out)
    return points, slope.abs() < 1


# ---------------------------------------------------------------------------- clipping
def _as_list(grads: Iterable[torch.Tensor] | torch.Tensor) -> list[torch.Tensor]:
    grads = [grads] if isinstance(grads, torch.Tensor) else list(grads)
    if not grads or not all(isinstance(g, torch.Tensor) for g in grads):
        raise TypeError("grads must be a tensor or a non-empty sequence of tensors")
    return grads


def global_norm(grads: Iterable[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    r""":math:`\lVert g \rVert_2` of all tensors taken together as one vector."""
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.detach())
                                                 for g in _as_list(grads)]))


def clip_by_norm(grads: Iterable[torch.Tensor] | torch.Tensor, max_norm: float,
                 eps: float = 1e-6) -> list[torch.Tensor]:
    r"""Rescale the whole gradient when it is too long (Pascanu et al., 2013, Algorithm 1).

    .. math:: \hat g = g \cdot \min\Big(1, \frac{c}{\lVert g \rVert + \epsilon}\Big)

    The direction is kept; only the length is capped at about ``max_norm``. Same numbers as
    ``torch.nn.utils.clip_grad_norm_`` (which uses the same ``eps``). Returns new tensors.
    """
    grads = _as_list(grads)
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm!r}")
    coef = torch.clamp(max_norm / (global_norm(grads) + eps), max=1.0)
    return [g.detach() * coef.to(g.dtype) for g in grads]


def clip_by_value(grads: Iterable[torch.Tensor] | torch.Tensor,
                  clip_value: float) -> list[torch.Tensor]:
    r"""Clamp every entry to :math:`[-c, c]` (as ``torch.nn.utils.clip_grad_value_``).

    Large entries are cut and small ones kept, so the direction generally changes.
    """
    grads = _as_list(grads)
    if not clip_value > 0:
        raise ValueError(f"clip_value must be positive, got {clip_value!r}")
    return [g.detach().clamp(-clip_value, clip_value) for g in grads]


def cosine_similarity(a: Iterable[torch.Tensor] | torch.Tensor,
                      b: Iterable[torch.Tensor] | torch.Tensor) -> float:
    """Cosine of the angle between two gradients, each flattened into one vector."""
    va = torch.cat([g.detach().reshape(-1).double() for g in _as_list(a)])
    vb = torch.cat([g.detach().reshape(-1).double() for g in _as_list(b)])
    if va.shape != vb.shape:
        raise ValueError(f"the gradients have different sizes: {va.numel()} and {vb.numel()}")
    return float(va @ vb / (va.norm() * vb.norm()))


def suggest_clip_threshold(grad_norms: Sequence[float] | torch.Tensor,
                           multiple: float = 1.0) -> float:
    r"""Pascanu et al.'s heuristic: ``multiple`` times the mean gradient norm seen so far.

    Pass the (pre-clipping) norms of early training, e.g. ``History.grad_norm[:100]``;
    non-finite norms are ignored.
    """
    norms = torch.as_tensor(list(grad_norms) if not isinstance(grad_norms, torch.Tensor)
                            else grad_norms, dtype=torch.float64)
    if norms.dim() != 1 or norms.numel() == 0:
        raise ValueError("grad_norms must be a non-empty 1-D sequence of norms")
    finite = norms[torch.isfinite(norms)]
    if finite.numel() == 0:
        raise ValueError("grad_norms holds no finite value")
    if not multiple > 0:
        raise ValueError(f"multiple must be positive, got {multiple!r}")
    return multiple * float(finite.mean())


def first_divergence(losses: Sequence[float], spike: float = math.inf) -> int | None:
    """Index of the first loss that is NaN, infinite or above ``spike``; ``None`` if none."""
    for i, value in enumerate(losses):
        if not math.isfinite(value) or value > spike:
            return i
    return None
