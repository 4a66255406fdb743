"""STDP windows and the SSTDP backward: the error comes from backprop, the update has the shape of STDP.

For a layer with input times ``t_in (R, N_in)``, output times ``t_out (R, N_out)`` and the (already
normalised) gradient on output times ``grad (R, N_out)``:

* weight gradient ``dW[j, i] = -sum_r grad[r, j] * u(t_in[r, i], t_out[r, j])`` divided by the batch size;
* gradient sent to the inputs ``dt_in[r, i] = sum_j grad[r, j] * W[j, i]`` over causal pairs (input delivered
  within the window and ``t_in <= t_out``).

``u`` is the STDP window: *step* ``A`` for a delivered input with ``t_i <= t_j``, else ``-B``; *exponential*
``A exp(-(t_j - t_i)/tau)`` for ``t_i < t_j``, ``-B exp(-|t_i - t_j|/tau)`` otherwise, ``0`` at equal times.
"""

from __future__ import annotations

import numpy as np
import torch

from neuroplast.errors import NeuroplastError

WINDOWS = {"step": 0, "exp": 1}


def window_code(kind: str) -> int:
    if kind not in WINDOWS:
        raise NeuroplastError(f"unknown STDP window {kind!r}; allowed: {', '.join(WINDOWS)}")
    return WINDOWS[kind]


def stdp_window(t_pre, t_post, delivered, kind="step", a_plus=1.0, b_minus=0.0, tau=10.0):
    """STDP factor ``u`` on broadcast tensors of pre times, post times and the pre spike's delivery flag."""
    code = window_code(kind)
    causal = delivered & (t_pre <= t_post)
    if code == 0:
        return torch.where(causal, torch.full_like(t_pre * t_post, a_plus), torch.full_like(t_pre * t_post, -b_minus))
    diff = t_post - t_pre
    ltp = a_plus * torch.exp(-diff / tau)
    ltd = -b_minus * torch.exp(-diff.abs() / tau)
    return torch.where(delivered & (diff > 0), ltp, torch.where(diff == 0, torch.zeros_like(ltd), ltd))


def normalise_per_sample(grad: torch.Tensor) -> torch.Tensor:
    """Scale each sample's time gradient to unit L2 norm (zero stays zero): only its direction is used."""
    flat = grad.reshape(grad.shape[0], -1)
    norm = flat.norm(dim=1, keepdim=True)
    return (flat / torch.where(norm > 0, norm, torch.ones_like(norm))).reshape(grad.shape)


def normalise_per_map(grad: torch.Tensor) -> torch.Tensor:
    """``(B, L, C)`` conv time gradients: each sample's map ``c`` (its ``L`` positions) to L2 norm ``1/sqrt(C)``,
    so the sample's total stays 1 while a map with weak errors is not drowned by one with strong ones."""
    norm = grad.norm(dim=1, keepdim=True) * grad.shape[2] ** 0.5
    return grad / torch.where(norm > 0, norm, torch.ones_like(norm))


def sstdp_backward_reference(t_in, t_out, grad, weight, steps, kind="step", a_plus=1.0, b_minus=0.0, tau=10.0):
    """Plain version materialising the ``(R, N_out, N_in)`` pair tensors; returns the two sums (unsigned, unscaled)."""
    delivered = ((t_in >= 0) & (t_in < steps))[:, None, :]
    pre, post = t_in[:, None, :], t_out[:, :, None]
    u = stdp_window(pre, post, delivered, kind, a_plus, b_minus, tau)
    weight_sum = torch.einsum("rj,rji->ji", grad, u)
    causal = (delivered & (pre <= post)).to(grad.dtype)
    time_grad = torch.einsum("rj,ji,rji->ri", grad, weight, causal)
    return weight_sum, time_grad


def sstdp_backward(t_in, t_out, grad, weight, steps, kind="step", a_plus=1.0, b_minus=0.0, tau=10.0,
                   need_time_grad=True, backend="auto"):
    """``(sum_r grad*u, dt_in)`` on the fastest path; ``dt_in`` is None when not needed (first layer)."""
    from neuroplast.functional.ttfs import _numba_kernels

    kernels = _numba_kernels() if backend in ("auto", "numba") else None
    if backend == "reference" or kernels is None or t_in.device.type != "cpu":
        return _backward_torch_chunked(t_in, t_out, grad, weight, steps, kind, a_plus, b_minus, tau, need_time_grad)
    code = window_code(kind)
    dtype = np.float64 if t_in.dtype == torch.float64 else np.float32
    ti = t_in.detach().contiguous().numpy().astype(dtype, copy=False)
    to = t_out.detach().contiguous().numpy().astype(dtype, copy=False)
    g = grad.detach().contiguous().numpy().astype(dtype, copy=False)
    w_sum = np.empty((t_out.shape[1], t_in.shape[1]), dtype=dtype)
    kernels.sstdp_weight_grad(ti, to, g, float(steps), code, float(a_plus), float(b_minus), float(tau), w_sum)
    time_grad = None
    if need_time_grad:
        w = weight.detach().contiguous().numpy().astype(dtype, copy=False)
        dt = np.zeros_like(ti)
        kernels.sstdp_time_grad(ti, to, g, w, float(steps), dt)
        time_grad = torch.from_numpy(dt)
    return torch.from_numpy(w_sum), time_grad


def _backward_torch_chunked(t_in, t_out, grad, weight, steps, kind, a_plus, b_minus, tau, need_time_grad,
                            max_elems=1 << 22):
    """Torch fallback (and GPU path): the reference formula over row chunks to bound memory."""
    rows = t_in.shape[0]
    chunk = max(1, max_elems // max(1, t_in.shape[1] * t_out.shape[1]))
    w_sum = weight.new_zeros(weight.shape)
    time_grad = torch.zeros_like(t_in) if need_time_grad else None
    for start in range(0, rows, chunk):
        sl = slice(start, start + chunk)
        ws, tg = sstdp_backward_reference(t_in[sl], t_out[sl], grad[sl], weight, steps, kind, a_plus, b_minus, tau)
        w_sum += ws
        if need_time_grad:
            time_grad[sl] = tg
    return w_sum, time_grad
