"""A spiking layer: input projection, optional skip projections, optional recurrence, LIF neurons.

All steps' feedforward and skip currents are computed as matmuls over ``(T * B)`` rows before the scan. With
recurrence ``"none"`` or ``"self"`` (diagonal, one-step delay) only the elementwise scan is sequential and the
fused kernel runs it; ``"all"`` (``N x N``) and ``"sparse"`` (fixed random mask) need a recurrent matmul per
step and use the plain autograd loop.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from neuroplast.errors import NeuroplastError
from neuroplast.functional.projection import project
from neuroplast.neurons import LIF

__all__ = ["SpikingLayer", "RECURRENCE"]

RECURRENCE = ("none", "self", "all", "sparse")


class SpikingLayer(nn.Module):
    """``n_in -> size`` LIF layer; ``forward(x (T, B, n_in), skips=[(T, B, k), ...]) -> (spikes, trace)``.

    Parameters: ``weight`` ``(size, n_in)`` and one ``skip_weight[k]`` ``(size, skip_sizes[k])`` per skip source,
    both kaiming-normal, no bias; ``self_weight`` ``(size,)`` ~ ``U(-1, 1) * recurrent_strength`` for
    ``"self"``; ``recurrent_weight`` ``(size, size)`` ~ ``U(-1, 1) * recurrent_strength / sqrt(fan_in)`` for
    ``"all"`` / ``"sparse"`` (fan-in ``size`` or ``density * size``), with the fixed buffer ``recurrent_mask`` for
    ``"sparse"``. ``events`` goes to :func:`~neuroplast.functional.projection.project` (None: spike inputs take
    the event path; False: a caller that feeds traces skips the check). Extra keyword arguments go to
    :class:`~neuroplast.neurons.LIF`.
    """

    def __init__(
        self,
        n_in: int,
        size: int,
        recurrence: str = "none",
        skip_sizes: Sequence[int] = (),
        *,
        recurrent_strength: float = 1.0,
        density: float = 0.1,
        events: bool | None = None,
        **neuron,
    ):
        super().__init__()
        if recurrence not in RECURRENCE:
            raise NeuroplastError(f"recurrence must be one of {RECURRENCE}, got {recurrence!r}")
        if recurrence == "sparse" and not 0.0 < density <= 1.0:
            raise NeuroplastError(f"sparse recurrence needs 0 < density <= 1, got {density}")
        self.n_in, self.size, self.recurrence = n_in, size, recurrence
        self.skip_sizes = tuple(int(k) for k in skip_sizes)
        self.recurrent_strength, self.density, self.events = recurrent_strength, density, events
        self.neurons = LIF(size, **neuron)
        if recurrence in ("all", "sparse") and self.neurons.options.grad_method != "bptt":
            raise NeuroplastError(
                f"grad_method={self.neurons.options.grad_method!r} runs in the fused scan, which covers recurrence "
                "'none' and 'self' only; use grad_method='bptt' for 'all'/'sparse'"
            )
        self.weight = nn.Parameter(torch.empty(size, n_in))
        self.skip_weight = nn.ParameterList([nn.Parameter(torch.empty(size, k)) for k in self.skip_sizes])
        if recurrence == "self":
            self.self_weight = nn.Parameter(torch.empty(size))
        elif recurrence in ("all", "sparse"):
            self.recurrent_weight = nn.Parameter(torch.empty(size, size))
            if recurrence == "sparse":
                self.register_buffer("recurrent_mask", (torch.rand(size, size) < density).to(torch.get_default_dtype()))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw synaptic weights and reset intrinsic parameters; the sparse mask stays fixed."""
        nn.init.kaiming_normal_(self.weight)
        for w in self.skip_weight:
            nn.init.kaiming_normal_(w)
        with torch.no_grad():
            if self.recurrence == "self":
                self.self_weight.uniform_(-1.0, 1.0).mul_(self.recurrent_strength)
            elif self.recurrence in ("all", "sparse"):
                fan_in = self.size * (self.density if self.recurrence == "sparse" else 1.0)
                self.recurrent_weight.uniform_(-1.0, 1.0).mul_(self.recurrent_strength / math.sqrt(max(fan_in, 1.0)))
                if self.recurrence == "sparse":
                    self.recurrent_weight.mul_(self.recurrent_mask)
        self.neurons.reset_parameters()

    def effective_recurrent_weight(self) -> torch.Tensor | None:
        """The recurrent matrix as used (masked for ``"sparse"``), or None."""
        if self.recurrence == "all":
            return self.recurrent_weight
        if self.recurrence == "sparse":
            return self.recurrent_weight * self.recurrent_mask
        return None

    def input_current(self, x: torch.Tensor, skips: Sequence[torch.Tensor] = ()) -> torch.Tensor:
        """Feedforward plus skip currents of all steps, ``(T, B, size)``: one matmul per source."""
        if x.dim() != 3 or x.shape[-1] != self.n_in:
            raise NeuroplastError(f"SpikingLayer expects input (T, B, {self.n_in}), got {tuple(x.shape)}")
        if len(skips) != len(self.skip_weight):
            raise NeuroplastError(f"this layer has {len(self.skip_weight)} skip inputs, got {len(skips)}")
        for k, (src, w) in enumerate(zip(skips, self.skip_weight)):
            if src.shape[:2] != x.shape[:2] or src.shape[-1] != w.shape[1]:
                raise NeuroplastError(
                    f"skip input {k} must be {tuple(x.shape[:2]) + (w.shape[1],)} (same T, B as the main input), "
                    f"got {tuple(src.shape)}"
                )
        return project([x, *skips], [self.weight, *self.skip_weight], events=self.events)

    def forward(self, x: torch.Tensor, skips: Sequence[torch.Tensor] = (), trace: bool = True):
        """-> ``(spikes, trace)``; ``trace=False`` (nothing downstream reads it) returns ``(spikes, None)``.

        The projected current is made here for the neurons alone, so their backward may overwrite it with its
        gradient (``consume_current``); a second backward through the same graph then raises."""
        current = self.input_current(x, skips)
        if self.recurrence == "self":
            return self.neurons(current, self_weight=self.self_weight, trace=trace, consume_current=True)
        return self.neurons(current, recurrent_weight=self.effective_recurrent_weight(), trace=trace,
                            consume_current=True)

    def fan_out(self) -> torch.Tensor:
        """Outgoing recurrent synapses per neuron, ``(size,)`` (0, 1, ``size`` or the mask's column count)."""
        if self.recurrence == "self":
            return torch.ones(self.size)
        if self.recurrence == "all":
            return torch.full((self.size,), float(self.size))
        if self.recurrence == "sparse":
            return self.recurrent_mask.sum(0).float().cpu()
        return torch.zeros(self.size)

    def extra_repr(self) -> str:
        extra = f", skips from sizes {list(self.skip_sizes)}" if self.skip_sizes else ""
        density = f", density={self.density}" if self.recurrence == "sparse" else ""
        return f"{self.n_in} -> {self.size}, recurrence={self.recurrence}{density}{extra}"
