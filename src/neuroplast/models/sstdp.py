"""Time-to-first-spike networks of spike-once IF neurons, trained with SSTDP.

Layers take and return spike-time tensors ``(B, features...)`` with ``t_max`` meaning "no spike"; the network
records each IF layer's input and output times of the last forward so metrics (firing, additions) need no
second pass.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import nn

from neuroplast.errors import NeuroplastError
from neuroplast.functional.ttfs import first_k_times, min_pool_times, unfold_times
from neuroplast.learning.sstdp import IFSpec, SpikeOnceIFFunction


class SpikeOnceLinear(nn.Module):
    """Fully connected spike-once IF layer; ``weight`` drawn from ``U[init_low, init_high)``.

    ``bias_times``: extra inputs that spike at these fixed steps in every sample, each with its own trained
    weight column (the last columns of ``weight``). A bias spike at step 0 acts as a learned per-neuron threshold;
    later ones let a neuron fire on weak input, since their drive arrives whatever the sample.
    """

    def __init__(self, n_in: int, n_out: int, spec: IFSpec, init_low: float = 0.0, init_high: float = 5.0,
                 bias_times: tuple[int, ...] = ()):
        super().__init__()
        self.n_in, self.n_out, self.spec = n_in, n_out, spec
        self.init_low, self.init_high = init_low, init_high
        self.bias_times = tuple(int(t) for t in bias_times)
        if any(not 0 <= t < spec.steps for t in self.bias_times):
            raise NeuroplastError(f"bias_times must lie in the simulated steps [0, {spec.steps}), "
                                  f"got {list(self.bias_times)}")
        self.weight = nn.Parameter(torch.empty(n_out, n_in + len(self.bias_times)))
        self.reset_parameters()

    def reset_parameters(self, neurons: torch.Tensor | None = None):
        """Redraw all weights, or only the rows of ``neurons`` (dead-neuron re-initialisation)."""
        with torch.no_grad():
            if neurons is None:
                self.weight.uniform_(self.init_low, self.init_high)
            elif len(neurons):
                rows = torch.empty(len(neurons), self.weight.shape[1]).uniform_(self.init_low, self.init_high)
                self.weight[neurons] = rows.to(self.weight.dtype)

    def rows(self, t_in: torch.Tensor):
        if t_in.dim() != 2 or t_in.shape[1] != self.n_in:
            raise NeuroplastError(f"SpikeOnceLinear expects (B, {self.n_in}) spike times, got {tuple(t_in.shape)}")
        return self._with_bias(t_in), 1

    def _with_bias(self, rows: torch.Tensor) -> torch.Tensor:
        if not self.bias_times:
            return rows
        bias = torch.tensor(self.bias_times, dtype=rows.dtype, device=rows.device).expand(rows.shape[0], -1)
        return torch.cat([rows, bias], dim=1)

    def forward(self, t_in: torch.Tensor, theta_scale: float = 1.0) -> torch.Tensor:
        rows, per = self.rows(t_in)
        return SpikeOnceIFFunction.apply(rows, self.weight, self._spec(theta_scale), per)

    def _spec(self, theta_scale: float) -> IFSpec:
        return self.spec if theta_scale == 1.0 else replace(self.spec, theta=self.spec.theta * theta_scale)

    def fan_out(self) -> int:
        return self.n_out

    def extra_repr(self):
        bias = f", bias_times={list(self.bias_times)}" if self.bias_times else ""
        return f"{self.n_in} -> {self.n_out}, theta={self.spec.theta}, t_max={self.spec.t_max}{bias}"


def window_hw(h: int, w: int, kernel: int, stride: int, padding: int = 0) -> tuple[int, int]:
    """Output height and width of a sliding window over an ``h x w`` map (conv and min-pool alike)."""
    return (h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1


class SpikeOnceConv2d(SpikeOnceLinear):
    """Convolutional spike-once IF layer: the linear kernel applied to unfolded patches of input times."""

    def __init__(self, c_in, c_out, kernel_size, spec: IFSpec, stride=1, padding=0, init_low=0.0, init_high=5.0,
                 bias_times=()):
        self.c_in, self.kernel_size, self.stride, self.padding = c_in, kernel_size, stride, padding
        super().__init__(c_in * kernel_size * kernel_size, c_out, spec, init_low, init_high, bias_times)

    def rows(self, t_in):
        if t_in.dim() != 4 or t_in.shape[1] != self.c_in:
            raise NeuroplastError(f"SpikeOnceConv2d expects (B, {self.c_in}, H, W) spike times, got {tuple(t_in.shape)}")
        patches = unfold_times(t_in, self.kernel_size, self.stride, self.padding, self.spec.t_max)
        per = patches.shape[2]
        return self._with_bias(patches.transpose(1, 2).reshape(-1, self.n_in)), per

    def out_hw(self, h, w):
        return window_hw(h, w, self.kernel_size, self.stride, self.padding)

    def forward(self, t_in, theta_scale: float = 1.0):
        rows, per = self.rows(t_in)
        out = SpikeOnceIFFunction.apply(rows, self.weight, self._spec(theta_scale), per)
        h, w = self.out_hw(t_in.shape[2], t_in.shape[3])
        return out.view(t_in.shape[0], h, w, self.n_out).permute(0, 3, 1, 2)

    def extra_repr(self):
        return (f"{self.c_in} -> {self.n_out}, k={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"theta={self.spec.theta}")


class MinPool2d(nn.Module):
    """The earliest spike in each window passes (max-pooling for time codes)."""

    def __init__(self, kernel_size: int, stride: int | None = None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride or kernel_size

    def forward(self, t_in):
        return min_pool_times(t_in, self.kernel_size, self.stride)


def _window_out(k: int, kind: str, shape: tuple[int, ...], kernel: int, stride: int, padding: int
                ) -> tuple[int, int]:
    """Output height and width of a conv / pool window over a ``(C, H, W)`` input; a window that does not fit
    is named here, since the config cannot know the input size and torch would fail deep inside unfold."""
    pad = f", padding {padding}" if kind == "conv" else ""
    layer = f"layer {k} ({kind}, kernel {kernel}, stride {stride}{pad})"
    if kernel < 1 or stride < 1 or padding < 0:
        raise NeuroplastError(f"{layer}: kernel and stride must be >= 1 and padding >= 0")
    c, h, w = shape
    out = window_hw(h, w, kernel, stride, padding)
    if min(out) < 1:
        more = " or more padding" if kind == "conv" else ""
        raise NeuroplastError(f"{layer} receives {c}x{h}x{w} and would produce no output positions; "
                              f"use a kernel <= {min(h, w) + 2 * padding}{more}")
    return out


class SSTDPNet(nn.Module):
    """A stack of spike-once IF layers (linear / conv / min-pool / flatten) built from a list of layer specs.

    ``layers`` items: ``{"type": "conv", "out": 32, "kernel": 5, "stride": 1, "padding": 2, "theta": ..,
    "init": [lo, hi]}``, ``{"type": "pool", "kernel": 2}``, ``{"type": "linear", "out": 400, "theta": .., "init": ..}``.
    A linear layer after conv/pool flattens its input. ``"dropout": p`` on a linear / conv layer silences each of
    its output spikes with probability ``p`` in training (time ``t_max``: the next layer never receives it and
    sends no error back to it), and the next IF layer's threshold is scaled by ``1 - p`` meanwhile, so that it
    fires at the drive it will see in evaluation, where every spike passes (inverted dropout for thresholds).
    ``"winners": k`` on a linear layer lets only each sample's k earliest spikes of that layer through (ties with
    the k-th kept), in training and evaluation: lateral inhibition; the silenced neurons get no error.
    """

    def __init__(self, input_shape: tuple[int, ...], layers: list[dict], spec: IFSpec):
        super().__init__()
        self.input_shape, self.spec, self.layer_specs = tuple(input_shape), spec, layers
        shape = tuple(input_shape)
        mods = []
        for k, item in enumerate(layers):
            kind = item.get("type", "linear")
            own = {"theta": float(item["theta"])} if "theta" in item else {}
            layer_spec = replace(spec, **own, normalise=item.get("normalise", "sample"))
            lo, hi = item.get("init", (0.0, 5.0))
            if kind == "linear":
                n_in = math.prod(shape)
                mods.append(SpikeOnceLinear(n_in, int(item["out"]), layer_spec, lo, hi, item.get("bias_times", ())))
                shape = (int(item["out"]),)
            elif kind == "conv":
                if len(shape) != 3:
                    raise NeuroplastError(f"layer {k}: conv needs an image input (C, H, W), got shape {shape}")
                kernel, stride, padding = int(item["kernel"]), int(item.get("stride", 1)), int(item.get("padding", 0))
                out_hw = _window_out(k, kind, shape, kernel, stride, padding)
                mods.append(SpikeOnceConv2d(shape[0], int(item["out"]), kernel, layer_spec, stride, padding, lo, hi,
                                            item.get("bias_times", ())))
                shape = (int(item["out"]), *out_hw)
            elif kind == "pool":
                if len(shape) != 3:
                    raise NeuroplastError(f"layer {k}: pool needs an image input (C, H, W), got shape {shape}")
                kernel = int(item["kernel"])
                stride = int(item.get("stride", kernel))
                out_hw = _window_out(k, kind, shape, kernel, stride, 0)
                mods.append(MinPool2d(kernel, stride))
                shape = (shape[0], *out_hw)
            else:
                raise NeuroplastError(f"layer {k}: unknown type {kind!r}; allowed: linear, conv, pool")
        self.layers = nn.ModuleList(mods)
        drop = [float(item.get("dropout", 0.0)) for item in layers]
        if any(not 0.0 <= p < 1.0 for p in drop):
            raise NeuroplastError(f"dropout must be a probability in [0, 1), got {drop}")
        self.dropout = drop
        self.winners = [int(item["winners"]) if "winners" in item else None for item in layers]
        for k, (item, mod, n) in enumerate(zip(layers, mods, self.winners)):
            if n is not None and (type(mod) is not SpikeOnceLinear or not 1 <= n < mod.n_out):
                raise NeuroplastError(f"layer {k}: winners is for linear layers, an integer in [1, out - 1]; "
                                      f"got {item['winners']!r} on a {item.get('type', 'linear')} layer")
        self.output_shape = shape
        self.record: list[tuple[torch.Tensor, torch.Tensor]] = []

    def if_layers(self) -> list[SpikeOnceLinear]:
        return [m for m in self.layers if isinstance(m, SpikeOnceLinear)]

    def forward(self, t_in: torch.Tensor) -> torch.Tensor:
        """``(B, *input_shape)`` input times -> ``(B, n_classes)`` output times; records per-layer times."""
        if tuple(t_in.shape[1:]) != self.input_shape:
            raise NeuroplastError(f"expected input of shape (B, {', '.join(map(str, self.input_shape))}), "
                                  f"got {tuple(t_in.shape)}")
        if not torch.isfinite(t_in).all():
            raise NeuroplastError("input spike times contain NaN or inf; check the encoder's input")
        self.record = []
        t = t_in
        scale = 1.0
        for layer, p, winners in zip(self.layers, self.dropout, self.winners):
            if isinstance(layer, SpikeOnceLinear) and not isinstance(layer, SpikeOnceConv2d) and t.dim() > 2:
                t = t.reshape(t.shape[0], -1)
            if isinstance(layer, SpikeOnceLinear):
                t_out = layer(t, scale)
                if winners is not None:
                    t_out = first_k_times(t_out, winners, self.spec.t_max)
                self.record.append((t.detach(), t_out.detach()))
                scale = 1.0
            else:
                t_out = layer(t)
            if self.training and p > 0:
                keep = torch.rand(t_out.shape, device=t_out.device) >= p
                t_out = torch.where(keep, t_out, torch.full_like(t_out, float(self.spec.t_max)))
                scale = 1.0 - p
            t = t_out
        return t

    @torch.no_grad()
    def additions(self) -> list[float]:
        """Additions per inference per IF layer (last forward): each delivered input spike x its fan-out."""
        counts = []
        for layer, (t_in, _) in zip(self.if_layers(), self.record):
            steps = layer.spec.steps
            rows, _ = layer.rows(t_in)
            delivered = ((rows >= 0) & (rows < steps)).sum().item() * layer.n_out
            counts.append(delivered / t_in.shape[0])
        return counts
