"""ScSr-SNN: skip-connected self-recurrent spiking networks (methods.md 1.3), and the ablation baselines.

Layers are indexed ``0`` (the input), ``1 .. H`` (hidden), ``H + 1`` (output). Every hidden layer gets the same
``recurrence``; the output layer has none. A skip ``(src, dst)`` adds a trainable matrix from layer ``src``'s
trace into layer ``dst``'s membrane input, for any ``src < dst - 1``.

Defaults for speech (documented choice, methods.md 1.2 / 1.7): 78 Lyon channels in, ``DEFAULT_HIDDEN``
``(256, 256)``, ``tau_mem`` 64 and ``tau_syn`` 8 steps, threshold 1, gain 1, self-loops on both hidden layers and
one skip from the input to the second hidden layer. The input spikes pass through the same first-order trace
(``input_tau_syn``, default ``tau_syn``) before the first projection.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from neuroplast.errors import NeuroplastError
from neuroplast.functional.lif import LIFOptions, synaptic_trace
from neuroplast.layers import SpikingLayer

__all__ = ["ScSrSNN", "PRESETS", "DEFAULT_HIDDEN", "DEFAULT_SKIPS"]

DEFAULT_HIDDEN = (256, 256)
DEFAULT_SKIPS = ((0, 2),)
_BIP = dict(train_tau_mem=True, train_tau_syn=True, train_threshold=True, train_gain=True)

PRESETS: dict[str, dict] = {
    "feedforward": dict(recurrence="none", skips=()),
    "fc-rsnn": dict(recurrence="all", skips=()),
    "sparse-rsnn": dict(recurrence="sparse", skips=()),
    "sr": dict(recurrence="self", skips=()),
    "scsr": dict(recurrence="self", skips=DEFAULT_SKIPS),
    "scsr-bip": dict(recurrence="self", skips=DEFAULT_SKIPS, **_BIP),
}


class ScSrSNN(nn.Module):
    """``forward(x (T, B, n_in)) -> (output spikes (T, B, n_out), spike counts per layer {name: (B, N)})``.

    Neuron settings (``tau_mem``, ``tau_syn``, ``threshold``, ``gain``, ``train_*``, ``*_range``, ``options``)
    apply to every layer; ``recurrent_strength`` and ``density`` to the hidden recurrence.
    """

    def __init__(
        self,
        n_in: int,
        hidden: Sequence[int],
        n_out: int,
        *,
        recurrence: str = "self",
        skips: Sequence[tuple[int, int]] = DEFAULT_SKIPS,
        recurrent_strength: float = 1.0,
        density: float = 0.1,
        input_tau_syn: float | None = None,
        dropout: float = 0.0,
        tau_mem=64.0,
        tau_syn=8.0,
        threshold=1.0,
        gain=1.0,
        train_tau_mem: bool = False,
        train_tau_syn: bool = False,
        train_threshold: bool = False,
        train_gain: bool = False,
        tau_mem_range: tuple = (1.0, None),
        tau_syn_range: tuple = (1.0, None),
        options: LIFOptions = LIFOptions(),
    ):
        super().__init__()
        self.sizes = (int(n_in), *(int(h) for h in hidden), int(n_out))
        if any(s < 1 for s in self.sizes):
            raise NeuroplastError(f"layer sizes must be >= 1, got {self.sizes}")
        n_layers = len(self.sizes)
        self.skips = tuple(sorted({(int(a), int(b)) for a, b in skips}))
        for src, dst in self.skips:
            if not 0 <= src < dst - 1 or dst > n_layers - 1:
                raise NeuroplastError(
                    f"skip ({src}, {dst}) is invalid: layers are 0 (input) .. {n_layers - 1} (output) and a skip must "
                    "join non-adjacent layers, src < dst - 1 (adjacent layers are already connected)"
                )
        if not 0.0 <= dropout < 1.0:
            raise NeuroplastError(f"dropout must be in [0, 1), got {dropout}")
        self.dropout = float(dropout)
        self.recurrence = recurrence
        self.input_tau_syn = float(tau_syn if input_tau_syn is None else input_tau_syn)
        neuron = dict(
            tau_mem=tau_mem, tau_syn=tau_syn, threshold=threshold, gain=gain,
            train_tau_mem=train_tau_mem, train_tau_syn=train_tau_syn,
            train_threshold=train_threshold, train_gain=train_gain,
            tau_mem_range=tau_mem_range, tau_syn_range=tau_syn_range, options=options,
        )
        self.skip_sources = {dst: [a for a, b in self.skips if b == dst] for dst in range(1, n_layers)}
        self.layers = nn.ModuleList(
            SpikingLayer(
                self.sizes[dst - 1],
                self.sizes[dst],
                recurrence if dst < n_layers - 1 else "none",
                [self.sizes[a] for a in self.skip_sources[dst]],
                recurrent_strength=recurrent_strength,
                density=density,
                events=False,  # every projection here takes traces, never spikes: skip the spike check
                **neuron,
            )
            for dst in range(1, n_layers)
        )

    @classmethod
    def from_preset(cls, name: str, n_in: int, n_out: int, hidden: Sequence[int] = DEFAULT_HIDDEN, **overrides):
        """One of the ablation rows (``PRESETS``), all with the same neuron counts; ``overrides`` win."""
        if name not in PRESETS:
            raise NeuroplastError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(n_in, hidden, n_out, **{**PRESETS[name], **overrides})

    def layer_names(self) -> list[str]:
        hidden = [f"hidden{i}" for i in range(1, len(self.sizes) - 1)]
        return ["input", *hidden, "output"]

    def forward(self, x: torch.Tensor):
        if x.dim() != 3 or x.shape[-1] != self.sizes[0]:
            raise NeuroplastError(
                f"ScSrSNN expects time-major input (T, B, {self.sizes[0]}), got {tuple(x.shape)}; "
                "batch-major data needs x.transpose(0, 1)"
            )
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        names = self.layer_names()
        traces = [synaptic_trace(x, self.input_tau_syn)]
        counts = {"input": x.detach().sum(0)}
        spikes = x
        for dst, layer in enumerate(self.layers, start=1):
            skips = [traces[src] for src in self.skip_sources[dst]]
            hidden = dst < len(self.layers)  # the output layer's trace feeds nothing: not stored
            spikes, trace = layer(traces[dst - 1], skips, trace=hidden)
            if self.training and self.dropout and hidden:
                trace = trace * self._dropout_mask(trace)
            traces.append(trace)
            counts[names[dst]] = spikes.detach().sum(0)
        return spikes, counts

    def _dropout_mask(self, trace: torch.Tensor) -> torch.Tensor:
        """One draw per (sample, neuron) for all steps: a dropped neuron is silent to every later layer for the
        whole utterance (dropout over time steps would only thin its trace); its own self-loop is unaffected."""
        keep = torch.rand(trace.shape[1:], device=trace.device) >= self.dropout
        return keep.to(trace.dtype) / (1.0 - self.dropout)

    @torch.no_grad()
    def record(self, x: torch.Tensor) -> dict[str, dict[str, torch.Tensor]]:
        """Per-layer spikes and pre-reset membranes ``p`` of ``x (T, B, n_in)``, for pictures (no gradient).

        A plain loop of the equations in :mod:`neuroplast.functional.lif`, kept separate from the kernels so
        they need no membrane output; tests check its spikes equal :meth:`forward`'s.
        """
        if not x.is_floating_point():
            x = x.to(torch.get_default_dtype())
        names = self.layer_names()
        traces = [synaptic_trace(x, self.input_tau_syn)]
        spikes, membrane = {"input": x}, {}
        for dst, layer in enumerate(self.layers, start=1):
            current = layer.input_current(traces[dst - 1], [traces[src] for src in self.skip_sources[dst]])
            n = layer.neurons
            alpha, inv = 1.0 - 1.0 / n.tau_mem, 1.0 / n.tau_syn
            w_self = layer.self_weight if layer.recurrence == "self" else None
            w_rec = layer.effective_recurrent_weight()
            u = torch.zeros_like(current[0])
            a, s = torch.zeros_like(u), torch.zeros_like(u)
            out_s, out_a, out_p = [], [], []
            for x_t in current.unbind(0):
                fb = a if n.options.feedback == "trace" else s
                i = x_t if w_self is None else torch.addcmul(x_t, w_self, fb)
                if w_rec is not None:
                    i = i + fb @ w_rec.T
                p = torch.addcmul(n.gain * i, alpha, u)
                s = (p > n.threshold).to(p.dtype)
                u = p * (1.0 - s)
                a = torch.lerp(a, s, inv)
                out_s.append(s)
                out_a.append(a)
                out_p.append(p)
            traces.append(torch.stack(out_a))
            spikes[names[dst]] = torch.stack(out_s)
            membrane[names[dst]] = torch.stack(out_p)
        return {"spikes": spikes, "membrane": membrane}

    def fan_out(self) -> dict[str, torch.Tensor]:
        """Outgoing synapses per neuron of each layer (next layer, skip targets, recurrence), ``{name: (N,)}``."""
        names = self.layer_names()
        out = {}
        for src, name in enumerate(names[:-1]):
            n = torch.full((self.sizes[src],), float(self.sizes[src + 1]))
            n += sum(self.sizes[dst] for a, dst in self.skips if a == src)
            if src > 0:
                n += self.layers[src - 1].fan_out()
            out[name] = n
        return out

    def synaptic_operations(self, counts: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Synaptic events per sample ``{name: (B,)}``: every spike reaches each of its neuron's targets."""
        fan = self.fan_out()
        return {name: counts[name] @ fan[name].to(counts[name]) for name in fan}

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, recurrence={self.recurrence}, skips={list(self.skips)}"
