r"""The forward pass of a plain (Elman) RNN, from scratch, in NumPy and in PyTorch (chapter 2).

Both implementations compute exactly what :class:`torch.nn.RNN` computes and load its weights.
For every layer :math:`k` and time step :math:`t`:

.. math::

    h_t^{(k)} = \sigma\big(W_{ih}^{(k)} x_t^{(k)} + b_{ih}^{(k)} + W_{hh}^{(k)} h_{t-1}^{(k)}
                + b_{hh}^{(k)}\big),
    \qquad x_t^{(0)} = x_t, \quad x_t^{(k)} = h_t^{(k-1)} \ (k \ge 1),

where :math:`\sigma` is ``tanh`` or ``relu``. PyTorch stores ``W_ih`` of layer ``k`` as
``weight_ih_l{k}`` with shape ``(hidden_size, input_size)`` for ``k = 0`` and
``(hidden_size, hidden_size)`` above, ``W_hh`` as ``weight_hh_l{k}`` ``(hidden_size,
hidden_size)``, and the two bias vectors as ``bias_ih_l{k}`` and ``bias_hh_l{k}``
``(hidden_size,)``. With a batch in rows the products are ``x @ W_ih.T``.

Shapes (``L`` = sequence length, ``N`` = batch, ``H_in`` = input size, ``H`` = hidden size):

- input ``x``: ``(L, N, H_in)``, or ``(N, L, H_in)`` if ``batch_first``, or ``(L, H_in)`` unbatched
- ``h0``: ``(num_layers, N, H)`` (never batch-first), or ``(num_layers, H)`` unbatched;
  zeros when omitted
- output: the last layer's states at every step, ``(L, N, H)`` or ``(N, L, H)`` or ``(L, H)``
- ``h_n``: every layer's state at the last step, ``(num_layers, N, H)`` or ``(num_layers, H)``

The module also has the output layer :math:`y_t = g(W_{ho} h_t + b_o)` (identity or softmax),
a numerically stable softmax and cross-entropy, the parameter count of ``nn.RNN``, and the
helpers chapter 2 uses to study hidden-state trajectories as a function of the spectral radius
of ``W_hh``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .recurrent import RNNBase
from .validation import ShapeError, check_array, check_positive_int, checked_by

__all__ = [
    "LayerWeights",
    "rnn_weights_from_torch",
    "rnn_cell_numpy",
    "rnn_forward_numpy",
    "rnn_layers_numpy",
    "rnn_cell",
    "ScratchRNN",
    "softmax",
    "log_softmax",
    "cross_entropy",
    "output_layer_numpy",
    "spectral_radius",
    "matrix_with_spectral_radius",
    "hidden_trajectory",
    "lyapunov_exponent",
]

NONLINEARITIES = ("tanh", "relu")
_ACTIVATIONS = {"linear": lambda z: z, "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}


def _check_nonlinearity(nonlinearity: str) -> str:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity


class LayerWeights(NamedTuple):
    """The parameters of one RNN layer as NumPy arrays (biases are ``None`` when absent).

    ``w_ih``: ``(hidden_size, layer_input_size)``; ``w_hh``: ``(hidden_size, hidden_size)``;
    ``b_ih``, ``b_hh``: ``(hidden_size,)``. Unpack with ``w_ih, w_hh, b_ih, b_hh = layer``.
    """

    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray | None
    b_hh: np.ndarray | None


def rnn_weights_from_torch(rnn: nn.RNN | ScratchRNN) -> list[LayerWeights]:
    """Copy the weights of a ``torch.nn.RNN`` (or :class:`ScratchRNN`) into NumPy arrays.

    Returns one :class:`LayerWeights` per layer, in the module's dtype (float32 or float64).

    Raises:
        TypeError: ``rnn`` is not an ``nn.RNN``/``ScratchRNN``.
        ValueError: the RNN is bidirectional or has a projection (not covered here).
    """
    if not isinstance(rnn, (nn.RNN, ScratchRNN)):
        raise TypeError(f"rnn must be a torch.nn.RNN or ScratchRNN, got {type(rnn).__name__}")
    if getattr(rnn, "bidirectional", False) or getattr(rnn, "proj_size", 0):
        raise ValueError("only unidirectional RNNs without projection are supported "
                         "(bidirectional RNNs are the subject of chapter 7)")

    def grab(name: str) -> np.ndarray | None:
        param = getattr(rnn, name, None)
        return None if param is None else param.detach().cpu().numpy().copy()

    return [LayerWeights(grab(f"weight_ih_l{k}"), grab(f"weight_hh_l{k}"),
                         grab(f"bias_ih_l{k}"), grab(f"bias_hh_l{k}"))
            for k in range(rnn.num_layers)]


def _check_cell_numpy(x_t: np.ndarray, h_prev: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                      b_ih: np.ndarray | None = None, b_hh: np.ndarray | None = None,
                      nonlinearity: str = "tanh") -> None:
    _check_nonlinearity(nonlinearity)
    hidden_size, input_size = w_ih.shape
    check_array(x_t, "x_t", ("batch", "input_size"), {"input_size": input_size})
    check_array(h_prev, "h_prev", ("batch", "hidden_size"),
                {"batch": x_t.shape[0], "hidden_size": hidden_size})


@checked_by(_check_cell_numpy)
def rnn_cell_numpy(x_t: np.ndarray, h_prev: np.ndarray, w_ih: np.ndarray, w_hh: np.ndarray,
                   b_ih: np.ndarray | None = None, b_hh: np.ndarray | None = None,
                   nonlinearity: str = "tanh") -> np.ndarray:
    r"""One step of an RNN layer: ``h_t = σ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    With a batch in rows (``x_t`` ``(N, H_in)``, ``h_prev`` ``(N, H)``) the products are
    ``x_t @ w_ih.T`` and ``h_prev @ w_hh.T``; ``w_ih`` is ``(H, H_in)``, ``w_hh`` ``(H, H)``,
    the biases ``(H,)`` or ``None``; ``nonlinearity`` is ``"tanh"`` or ``"relu"``.
    Returns ``h_t`` ``(N, H)``.
    """
    a = x_t @ w_ih.T + h_prev @ w_hh.T                        # (N, H)
    a = a + (0 if b_ih is None else b_ih) + (0 if b_hh is None else b_hh)
    return np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0)


def _check_sequence(x: np.ndarray | torch.Tensor, h0: np.ndarray | torch.Tensor | None,
                    input_size: int, hidden_size: int, num_layers: int,
                    batch_first: bool) -> bool:
    """Validate ``x`` and ``h0`` like ``nn.RNN`` does; return True when ``x`` is batched."""
    if isinstance(x, (np.ndarray, torch.Tensor)) and x.ndim == 2:
        check_array(x, "x (unbatched)", ("seq_len", "input_size"), {"input_size": input_size})
        if h0 is not None:
            check_array(h0, "h0 (unbatched input)", ("num_layers", "hidden_size"),
                        {"num_layers": num_layers, "hidden_size": hidden_size})
        return False
    dims = ("batch", "seq_len", "input_size") if batch_first else ("seq_len", "batch",
                                                                   "input_size")
    check_array(x, "x", dims, {"input_size": input_size})
    if h0 is not None:
        batch = x.shape[0] if batch_first else x.shape[1]
        check_array(h0, "h0", ("num_layers", "batch", "hidden_size"),
                    {"num_layers": num_layers, "batch": batch, "hidden_size": hidden_size})
    return True


def rnn_forward_numpy(x: np.ndarray, weights: list[LayerWeights], h0: np.ndarray | None = None,
                      nonlinearity: str = "tanh", batch_first: bool = False
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The forward pass of a multi-layer RNN in NumPy, equal to ``torch.nn.RNN``'s.

    Args:
        x: ``(seq_len, batch, input_size)``, ``(batch, seq_len, input_size)`` if
            ``batch_first``, or unbatched ``(seq_len, input_size)``.
        weights: one :class:`LayerWeights` per layer (see :func:`rnn_weights_from_torch`).
        h0: ``(num_layers, batch, hidden_size)`` (``(num_layers, hidden_size)`` unbatched);
            zeros when ``None``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        batch_first: layout of ``x`` and of the output (never of ``h0``/``h_n``).

    Returns:
        ``(output, h_n)``: the last layer's state at every step, shaped like ``x`` with
        ``hidden_size`` features, and every layer's final state ``(num_layers, batch, hidden)``.
        The computation itself is :func:`rnn_layers_numpy`; this function checks the inputs
        and handles the layouts.
    """
    _check_nonlinearity(nonlinearity)
    if not weights:
        raise ValueError("weights must hold at least one layer, got an empty list")
    hidden_size, input_size = weights[0].w_ih.shape
    batched = _check_sequence(x, h0, input_size, hidden_size, len(weights), batch_first)
    if not batched:  # treat (L, H_in) as a batch of one, like nn.RNN
        x, h0 = x[:, None, :], None if h0 is None else h0[:, None, :]
    elif batch_first:
        x = x.transpose(1, 0, 2)  # work time-major: (L, N, H_in)
    if h0 is None:
        dtype = np.result_type(x.dtype, weights[0].w_ih.dtype)
        h0 = np.zeros((len(weights), x.shape[1], hidden_size), dtype)
    output, h_n = rnn_layers_numpy(x, weights, h0, nonlinearity)
    if not batched:
        return output[:, 0, :], h_n[:, 0, :]
    return (output.transpose(1, 0, 2) if batch_first else output), h_n


def rnn_layers_numpy(x: np.ndarray, weights: list[LayerWeights], h0: np.ndarray,
                     nonlinearity: str = "tanh") -> tuple[np.ndarray, np.ndarray]:
    """Every layer over a time-major batch: ``x`` ``(L, N, H_in)``, ``h0`` ``(K, N, H)``."""
    act = np.tanh if nonlinearity == "tanh" else (lambda a: np.maximum(a, 0))
    layer_input, finals = x, []
    for k, (w_ih, w_hh, b_ih, b_hh) in enumerate(weights):
        h = h0[k]                                               # (N, H)
        # The input part of every step does not depend on h: one matrix product for all t.
        x_proj = layer_input @ w_ih.T + (0 if b_ih is None else b_ih)  # (L, N, H)
        states = []
        for x_t in x_proj:                                      # the sequential part
            h = act(x_t + h @ w_hh.T + (0 if b_hh is None else b_hh))
            states.append(h)
        finals.append(h)
        layer_input = np.stack(states)  # (L, N, H): the next layer reads this layer's states
    return layer_input, np.stack(finals)


def rnn_cell(x: torch.Tensor, h: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
             bias_ih: torch.Tensor, bias_hh: torch.Tensor, nonlinearity: str = "tanh"
             ) -> torch.Tensor:
    """One step of an RNN layer in PyTorch: ``h_t = σ(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)``.

    ``x`` ``(N, H_in)``, ``h`` ``(N, H)``, ``weight_ih`` ``(H, H_in)``, ``weight_hh`` ``(H, H)``,
    biases ``(H,)``; returns the new ``h`` ``(N, H)``.
    """
    a = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh  # pre-activation (N, H)
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)


class ScratchRNN(RNNBase):
    r"""A multi-layer Elman RNN written with a Python loop over time; the API of ``nn.RNN``.

    .. math::
        h_t = \sigma(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})

    Each step calls :func:`rnn_cell`; the loops over time, layers and directions are
    :class:`rnncourse.recurrent.RNNBase`'s. Parameters have ``nn.RNN``'s names and shapes
    (``weight_ih_l{k}`` ``(H, H_in)``, ``weight_hh_l{k}`` ``(H, H)``, ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` ``(H,)``, ``_reverse`` for the backward direction) and its
    initialisation, so ``ScratchRNN.from_torch(rnn)`` or ``load_state_dict`` copy its weights.

    Args:
        input_size, hidden_size, num_layers: as ``nn.RNN``.
        nonlinearity: ``"tanh"`` or ``"relu"``.
        bias, batch_first, dropout, bidirectional, device, dtype: as ``nn.RNN``.

    Inputs: ``input`` ``(L, N, H_in)`` (``(N, L, H_in)`` if ``batch_first``, ``(L, H_in)``
    unbatched) and ``hx`` ``(D·num_layers, N, H)`` (zeros if omitted).
    Outputs: ``output`` ``(L, N, D·H)`` and ``h_n`` ``(D·num_layers, N, H)``.

    Example::

        >>> rnn = ScratchRNN(3, 5, num_layers=2, batch_first=True)
        >>> output, h_n = rnn(torch.randn(4, 7, 3))
        >>> output.shape, h_n.shape
        (torch.Size([4, 7, 5]), torch.Size([2, 4, 5]))
    """

    num_gates = 1
    state_names = ("h",)
    torch_class = nn.RNN

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        self.nonlinearity = _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device=device, dtype=dtype)

    def cell(self, x: torch.Tensor, h: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
        return rnn_cell(x, h, *weights, nonlinearity=self.nonlinearity)

    def _extra_repr_options(self) -> dict:
        return {"num_layers": (self.num_layers, 1),
                "nonlinearity": (self.nonlinearity, "tanh"), **super()._extra_repr_options()}

    @classmethod
    def _config_from_torch(cls, module: nn.Module) -> dict:
        return {**super()._config_from_torch(module), "nonlinearity": module.nonlinearity}


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log softmax(z) = z - logsumexp(z)``, computed without overflow (shift by the max)."""
    z = np.asarray(z)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """``softmax(z)_i = exp(z_i) / Σ_j exp(z_j)`` along ``axis``, stable for large ``|z|``."""
    z = np.asarray(z)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy ``-log softmax(logits)[target]``, like ``F.cross_entropy``.

    Args:
        logits: ``(batch, num_classes)`` unnormalised scores (not probabilities).
        targets: ``(batch,)`` integer class indices in ``[0, num_classes)``.
    """
    check_array(logits, "logits", ("batch", "num_classes"))
    targets = np.asarray(targets)
    if targets.shape != (logits.shape[0],) or not np.issubdtype(targets.dtype, np.integer):
        raise ShapeError(f"targets must be integer class indices of shape "
                         f"(batch={logits.shape[0]},), got dtype {targets.dtype} and shape "
                         f"{targets.shape}")
    if targets.min() < 0 or targets.max() >= logits.shape[1]:
        raise ValueError(f"targets must lie in [0, {logits.shape[1]}), got values from "
                         f"{targets.min()} to {targets.max()}")
    logp = log_softmax(logits, axis=1)
    return float(-logp[np.arange(len(targets)), targets].mean())


def output_layer_numpy(h: np.ndarray, w_ho: np.ndarray, b_o: np.ndarray | None = None,
                       g: str = "identity") -> np.ndarray:
    """``y = g(h W_hoᵀ + b_o)`` applied to every step: the RNN's read-out.

    Args:
        h: states ``(..., hidden_size)``, e.g. the ``(L, N, H)`` output of an RNN.
        w_ho: ``(output_size, hidden_size)`` (the ``weight`` of an ``nn.Linear``).
        b_o: ``(output_size,)`` or ``None``.
        g: ``"identity"`` (regression: real-valued outputs) or ``"softmax"`` (classification:
            a probability distribution over ``output_size`` classes).

    Returns:
        ``(..., output_size)``.
    """
    if g not in ("identity", "softmax"):
        raise ValueError(f"g must be 'identity' or 'softmax', got {g!r}")
    if not isinstance(h, np.ndarray) or h.ndim < 1 or h.shape[-1] != w_ho.shape[1]:
        raise ShapeError(f"h must be an array whose last dimension is hidden_size="
                         f"{w_ho.shape[1]}, got {getattr(h, 'shape', type(h).__name__)}")
    z = h @ w_ho.T + (0 if b_o is None else b_o)
    return softmax(z, axis=-1) if g == "softmax" else z


# --- Dynamics: the hidden state as a trajectory ------------------------------------------------

def spectral_radius(w: np.ndarray | torch.Tensor) -> float:
    """Largest absolute eigenvalue of a square matrix (a NumPy array or a tensor)."""
    check_array(w, "w", ("rows", "cols"))
    if w.shape[0] != w.shape[1]:
        raise ShapeError(f"w must be square, got shape {tuple(w.shape)}")
    if isinstance(w, torch.Tensor):
        w = w.detach().cpu().double().numpy()
    return float(np.max(np.abs(np.linalg.eigvals(w))))


def matrix_with_spectral_radius(n: int, radius: float, kind: str = "orthogonal",
                                rng: np.random.Generator | None = None) -> np.ndarray:
    """An ``(n, n)`` random matrix with spectral radius ``radius``.

    ``kind="orthogonal"``: ``radius · Q`` with ``Q`` a random orthogonal matrix (QR of a Gaussian
    matrix with the sign fix), so every eigenvalue *and every singular value* equals ``radius``
    in modulus and ``‖W h‖ = radius ‖h‖`` exactly. ``kind="gaussian"``: a Gaussian matrix rescaled
    so that its *measured* spectral radius is ``radius``; its largest singular value is larger
    (the matrix is not normal), so norms can grow for a while even when ``radius < 1``.
    """
    n = check_positive_int(n, "n")
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    a = rng.standard_normal((n, n))
    if kind == "orthogonal":
        q, r = np.linalg.qr(a)
        return radius * q * np.sign(np.diag(r))
    if kind == "gaussian":
        return radius * a / spectral_radius(a)
    raise ValueError(f"kind must be 'orthogonal' or 'gaussian', got {kind!r}")


def hidden_trajectory(w_hh: np.ndarray, h0: np.ndarray, steps: int,
                      nonlinearity: str = "tanh", inputs: np.ndarray | None = None
                      ) -> np.ndarray:
    """Iterate ``h_t = σ(W_hh h_{t-1} + u_t)`` and return every state.

    Args:
        w_hh: ``(H, H)``.
        h0: ``(H,)`` or a batch of initial states ``(N, H)``.
        steps: number of steps ``T``.
        nonlinearity: ``"linear"`` (σ = identity), ``"tanh"`` or ``"relu"``.
        inputs: the input drive ``u_t = W_ih x_t + b``, shaped ``(T, H)`` or ``(T, N, H)``;
            zero (an autonomous system) when ``None``.

    Returns:
        ``(T + 1, *h0.shape)``: ``h_0, h_1, ..., h_T``.
    """
    steps = check_positive_int(steps, "steps")
    if nonlinearity not in ("linear", *NONLINEARITIES):
        raise ValueError(f"nonlinearity must be 'linear', 'tanh' or 'relu', got {nonlinearity!r}")
    h0 = np.asarray(h0, dtype=np.float64)
    if h0.shape[-1] != w_hh.shape[0]:
        raise ShapeError(f"h0 must end with hidden_size={w_hh.shape[0]}, got shape {h0.shape}")
    if inputs is not None and inputs.shape != (steps, *h0.shape):
        raise ShapeError(f"inputs must have shape {(steps, *h0.shape)}, got {inputs.shape}")
    act = _ACTIVATIONS
    out = np.empty((steps + 1, *h0.shape))
    out[0] = h = h0
    for t in range(steps):
        h = act[nonlinearity](h @ w_hh.T + (0 if inputs is None else inputs[t]))
        out[t + 1] = h
    return out


def _check_lyapunov(w_hh: np.ndarray, h0: np.ndarray, steps: int, nonlinearity: str = "tanh",
                    inputs: np.ndarray | None = None, eps: float = 1e-8, discard: int = 0,
                    rng: np.random.Generator | None = None) -> None:
    check_array(w_hh, "w_hh", ("rows", "cols"))
    if w_hh.shape[0] != w_hh.shape[1]:
        raise ShapeError(f"w_hh must be square, got shape {tuple(w_hh.shape)}")
    check_array(h0, "h0", ("hidden_size",), {"hidden_size": w_hh.shape[0]})
    steps = check_positive_int(steps, "steps")
    if nonlinearity not in ("linear", *NONLINEARITIES):
        raise ValueError(f"nonlinearity must be 'linear', 'tanh' or 'relu', got {nonlinearity!r}")
    if inputs is not None:
        check_array(inputs, "inputs", ("steps", "hidden_size"),
                    {"steps": steps, "hidden_size": w_hh.shape[0]})
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise ValueError(f"eps must be a small positive number (e.g. 1e-8), got {eps!r}")
    if isinstance(discard, bool) or not isinstance(discard, (int, np.integer)) or not (
            0 <= discard < steps):
        raise ValueError(f"discard must be an int in [0, steps={steps}), got {discard!r}")



@checked_by(_check_lyapunov)
def lyapunov_exponent(w_hh: np.ndarray, h0: np.ndarray, steps: int, nonlinearity: str = "tanh",
                      inputs: np.ndarray | None = None, eps: float = 1e-8, discard: int = 0,
                      rng: np.random.Generator | None = None) -> float:
    r"""Largest Lyapunov exponent of ``h_t = σ(W_hh h_{t-1} + u_t)``, from a tiny perturbation.

    Two copies of the network read the same inputs; the second starts ``eps`` away from the
    first. After every step the distance is measured and the copy is pulled back to distance
    ``eps`` along the same direction (renormalised), so the gap stays infinitesimal
    (``eps`` is relative to ``‖h‖`` when the state is larger than 1, so that rounding cannot
    swallow it in an exploding linear or ReLU network):

    .. math::
        \lambda \approx \frac{1}{T - T_0} \sum_{t=T_0+1}^{T}
            \log \frac{\|h'_t - h_t\|}{\varepsilon}, \qquad
        h'_{t-1} = h_{t-1} + \varepsilon\, d_{t-1},\ \|d_{t-1}\| = 1.

    ``λ < 0``: nearby states converge, by a factor ``e^λ`` per step (the start is forgotten);
    ``λ > 0``: they separate (chaos: tiny differences are amplified); ``λ ≈ 0``: neutral, e.g.
    along a limit cycle. For the linear map with ``W = ρQ`` (``Q`` orthogonal), ``λ = log ρ``.

    Args:
        w_hh: ``(H, H)``. h0: the start ``(H,)``. steps: ``T``.
        nonlinearity: ``"linear"``, ``"tanh"`` or ``"relu"``.
        inputs: the drive ``u_t``, ``(T, H)``; zero when ``None``.
        eps: size of the perturbation. discard: the first ``T_0`` steps (the transient) are
            not averaged. rng: draws the first direction ``d_0`` (default: seed 0).

    Returns:
        ``λ`` in nats per step (``-inf`` if the perturbation vanishes exactly).

    Example::

        >>> q = matrix_with_spectral_radius(8, 0.5)
        >>> print(f"{lyapunov_exponent(q, np.ones(8), 50, 'linear'):.4f} = log 0.5")
        -0.6931 = log 0.5
    """
    act = _ACTIVATIONS[nonlinearity]
    rng = np.random.default_rng(0) if rng is None else rng
    h = np.asarray(h0, dtype=np.float64)                       # (H,)
    d = rng.standard_normal(h.shape)
    d /= np.linalg.norm(d)                                      # a unit direction
    logs = []
    for t in range(steps):
        u = 0 if inputs is None else inputs[t]
        e = eps * max(1.0, np.linalg.norm(h))                   # tiny, even next to a big h
        h_next = act(h @ w_hh.T + u)                            # the reference copy
        gap = act((h + e * d) @ w_hh.T + u) - h_next            # the perturbed copy minus it
        size = np.linalg.norm(gap)
        if size == 0:                                           # e.g. every ReLU unit is off
            return -np.inf
        logs.append(np.log(size / e))                           # growth of the gap this step
        h, d = h_next, gap / size                               # renormalise to distance e
    return float(np.mean(logs[discard:]))
