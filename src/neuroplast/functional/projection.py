"""The summed input projections of all time steps, ``X = sum_k x_k @ W_k.T``, with a hand-written backward.

Why not ``F.linear`` plus an in-place ``addmm_`` per skip: autograd then records the in-place update as a
``CopySlices`` node that clones the whole ``(T*B, N)`` gradient in the backward. Here the forward and the
backward are the same matrix multiplies (``mm`` into one buffer, ``addmm_`` per extra source), their big outputs
come from :func:`~neuroplast.functional.memory.empty_large`, and the backward makes only the products that are
asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.autograd.function import once_differentiable

from neuroplast.functional.memory import empty_large

__all__ = ["project"]


def project(inputs: Sequence[torch.Tensor], weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum_k inputs[k] @ weights[k].T`` for inputs ``(..., n_k)`` sharing their leading shape and weights
    ``(m, n_k)``; returns a contiguous ``(..., m)`` tensor."""
    if len(inputs) != len(weights) or not inputs:
        raise ValueError(f"project needs one weight per input, got {len(inputs)} inputs and {len(weights)} weights")
    return _Projection.apply(len(inputs), *inputs, *weights)


def _mm_into(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    out = empty_large((a.shape[0], b.shape[1]), a.dtype, a.device)
    return torch.mm(a, b, out=out)


class _Projection(torch.autograd.Function):
    @staticmethod
    def forward(ctx, n, *tensors):
        xs, ws = tensors[:n], tensors[n:]
        lead = xs[0].shape[:-1]
        flat = [x.reshape(-1, x.shape[-1]) for x in xs]
        out = _mm_into(flat[0], ws[0].t())
        for x, w in zip(flat[1:], ws[1:]):
            out.addmm_(x, w.t())
        ctx.n = n
        ctx.save_for_backward(*tensors)
        return out.view(*lead, out.shape[-1])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        n = ctx.n
        tensors = ctx.saved_tensors
        xs, ws = tensors[:n], tensors[n:]
        needs = ctx.needs_input_grad[1:]
        g = grad.reshape(-1, grad.shape[-1])
        g = g if g.is_contiguous() else g.contiguous()
        grad_x = [_mm_into(g, w).view_as(x) if needs[k] else None for k, (x, w) in enumerate(zip(xs, ws))]
        grad_w = [g.t().mm(x.reshape(-1, x.shape[-1])) if needs[n + k] else None for k, x in enumerate(xs)]
        return (None, *grad_x, *grad_w)
