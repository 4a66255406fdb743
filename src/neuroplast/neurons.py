"""LIF neurons that own their per-neuron intrinsic parameters (BIP, methods.md 1.4).

Each intrinsic parameter is stored unconstrained (``*_raw``) and mapped into its valid range, so no optimizer
step, however large, can leave it (documented choice):

* ``tau_mem``, ``tau_syn`` (steps): ``lo + softplus(raw)`` (unbounded above, default ``lo = 1`` so the decay
  ``1 - 1/tau`` stays in ``[0, 1)``), or ``lo + (hi - lo) * sigmoid(raw)`` when a range ``(lo, hi)`` is given
  (SpiKL-IP bounded tau_m to ``[32, 512]`` for speech);
* ``threshold``: ``THRESHOLD_MIN + softplus(raw)``;
* ``gain`` (input resistance R): ``GAIN_MIN + softplus(raw)``.

All four are ``nn.Parameter`` objects, trainable each on its own switch; frozen ones keep ``requires_grad=False``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neuroplast.errors import NeuroplastError
from neuroplast.functional.lif import LIFOptions, lif_scan, lif_scan_reference

__all__ = ["LIF", "THRESHOLD_MIN", "GAIN_MIN", "INTRINSIC_NAMES"]

THRESHOLD_MIN = 1e-3
GAIN_MIN = 1e-3
INTRINSIC_NAMES = ("tau_mem", "tau_syn", "threshold", "gain")


def _inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    return y + torch.log(-torch.expm1(-y))


class LIF(nn.Module):
    """A population of ``size`` LIF neurons; ``forward(current (T, B, size)) -> (spikes, trace)``.

    ``tau_mem``, ``tau_syn``, ``threshold``, ``gain`` are initial values, a scalar or one per neuron. The
    ``*_range`` arguments are ``(lo, hi)`` with ``hi=None`` for no upper bound. ``options`` picks the
    kernel, surrogate and gradient method (:class:`~neuroplast.functional.lif.LIFOptions`).
    """

    def __init__(
        self,
        size: int,
        tau_mem=64.0,
        tau_syn=8.0,
        threshold=1.0,
        gain=1.0,
        *,
        train_tau_mem: bool = False,
        train_tau_syn: bool = False,
        train_threshold: bool = False,
        train_gain: bool = False,
        tau_mem_range: tuple[float, float | None] = (1.0, None),
        tau_syn_range: tuple[float, float | None] = (1.0, None),
        options: LIFOptions = LIFOptions(),
    ):
        super().__init__()
        if size < 1:
            raise NeuroplastError(f"LIF size must be >= 1, got {size}")
        self.size = size
        self.options = options
        self.ranges = {"tau_mem": tuple(tau_mem_range), "tau_syn": tuple(tau_syn_range)}
        for name, (lo, hi) in self.ranges.items():
            if lo < 1.0 or (hi is not None and not hi > lo):
                raise NeuroplastError(f"{name}_range must be (lo, hi) with 1 <= lo < hi (or hi=None), got {(lo, hi)}")
        self._init = {
            "tau_mem": self._vector(tau_mem, "tau_mem"),
            "tau_syn": self._vector(tau_syn, "tau_syn"),
            "threshold": self._vector(threshold, "threshold"),
            "gain": self._vector(gain, "gain"),
        }
        train = {"tau_mem": train_tau_mem, "tau_syn": train_tau_syn, "threshold": train_threshold, "gain": train_gain}
        for name in INTRINSIC_NAMES:
            self.register_parameter(f"{name}_raw", nn.Parameter(torch.empty(size), requires_grad=bool(train[name])))
        self.reset_parameters()

    def _vector(self, value, name) -> torch.Tensor:
        t = torch.as_tensor(value, dtype=torch.get_default_dtype()).detach().clone()
        if t.dim() == 0:
            t = t.expand(self.size).clone()
        if t.shape != (self.size,):
            raise NeuroplastError(f"{name} must be a scalar or have shape ({self.size},), got {tuple(t.shape)}")
        return t

    def _to_raw(self, name: str, value: torch.Tensor) -> torch.Tensor:
        if name in self.ranges:
            lo, hi = self.ranges[name]
            if hi is None:
                if not bool((value > lo).all()):
                    raise NeuroplastError(f"{name} must be > {lo} (its range's lower end), got min {value.min():.4g}")
                return _inverse_softplus(value - lo)
            if not bool(((value > lo) & (value < hi)).all()):
                raise NeuroplastError(f"{name} must lie strictly inside its range ({lo}, {hi})")
            return torch.logit((value - lo) / (hi - lo))
        floor = THRESHOLD_MIN if name == "threshold" else GAIN_MIN
        if not bool((value > floor).all()):
            raise NeuroplastError(f"{name} must be > {floor}, got min {value.min():.4g}")
        return _inverse_softplus(value - floor)

    def _from_raw(self, name: str, raw: torch.Tensor) -> torch.Tensor:
        if name in self.ranges:
            lo, hi = self.ranges[name]
            return lo + F.softplus(raw) if hi is None else lo + (hi - lo) * torch.sigmoid(raw)
        return (THRESHOLD_MIN if name == "threshold" else GAIN_MIN) + F.softplus(raw)

    def reset_parameters(self) -> None:
        with torch.no_grad():
            for name in INTRINSIC_NAMES:
                getattr(self, f"{name}_raw").copy_(self._to_raw(name, self._init[name]))

    @property
    def tau_mem(self) -> torch.Tensor:
        return self._from_raw("tau_mem", self.tau_mem_raw)

    @property
    def tau_syn(self) -> torch.Tensor:
        return self._from_raw("tau_syn", self.tau_syn_raw)

    @property
    def threshold(self) -> torch.Tensor:
        return self._from_raw("threshold", self.threshold_raw)

    @property
    def gain(self) -> torch.Tensor:
        return self._from_raw("gain", self.gain_raw)

    def intrinsic_parameters(self, trainable_only: bool = True):
        """The raw intrinsic parameters (for BIP's own optimizer group); frozen ones only if asked."""
        for name in INTRINSIC_NAMES:
            p = getattr(self, f"{name}_raw")
            if p.requires_grad or not trainable_only:
                yield p

    def forward(self, current: torch.Tensor, self_weight=None, recurrent_weight=None, trace: bool = True,
                consume_current: bool = False):
        """``current (T, B, size)`` -> ``(spikes, trace)``; a full ``recurrent_weight`` forces the plain loop.
        ``trace=False`` gives ``(spikes, None)`` and spares the memory of a trace nothing reads;
        ``consume_current`` lets the backward overwrite a current nothing else reads (see ``lif_scan``)."""
        if current.dim() != 3 or current.shape[-1] != self.size:
            raise NeuroplastError(f"LIF expects current (T, B, {self.size}), got {tuple(current.shape)}")
        args = (current, self.tau_mem, self.tau_syn, self.threshold, self.gain, self_weight)
        if recurrent_weight is not None:
            spikes, out_trace = lif_scan_reference(*args, recurrent_weight, self.options)
            return spikes, out_trace if trace else None
        return lif_scan(*args, options=self.options, trace=trace, consume_current=consume_current)

    def extra_repr(self) -> str:
        parts = [str(self.size)]
        for name in INTRINSIC_NAMES:
            v = getattr(self, name).detach()
            mark = " (trained)" if getattr(self, f"{name}_raw").requires_grad else ""
            parts.append(f"{name}={v.mean().item():.4g}{mark}")
        o = self.options
        parts.append(f"surrogate={o.surrogate.name}({o.surrogate.width:g}), grad={o.grad_method}, {o.implementation}")
        return ", ".join(parts)
