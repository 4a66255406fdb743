"""Surrogate derivatives for the spike nonlinearity ``s = H(x)``, ``x = u - V_th``.

The Heaviside step has no useful derivative, so training replaces ``dH/dx`` by a smooth bump ``g(x)``. Every
surrogate here is the derivative of a smooth step ``F(x)`` rising from 0 to 1, so ``g`` integrates to one
and ``width`` is its scale in units of membrane potential:

===============  ======================================  =========================
name             g(x)                                     peak g(0)
===============  ======================================  =========================
fast_sigmoid     1 / (2w (1 + |x|/w)^2)   (SuperSpike)    1 / (2w)
arctan           w / (pi (w^2 + x^2))                     1 / (pi w)
sigmoid          sig(x/w) (1 - sig(x/w)) / w               1 / (4w)
triangle         max(0, 1 - |x|/w) / w                    1 / w
rectangular      [|x| < w] / (2w)                         1 / (2w)
===============  ======================================  =========================

The primitive ``F`` is kept next to each derivative: the "soft" spike mode of the LIF kernels uses it as the
forward nonlinearity, which makes the whole neuron differentiable and lets tests compare against finite
differences. New shapes are added with :func:`register_surrogate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch

from neuroplast.errors import NeuroplastError

__all__ = [
    "Surrogate",
    "SurrogateFunctions",
    "SpikeFunction",
    "register_surrogate",
    "get_surrogate",
    "surrogate_names",
    "spike",
]


class SurrogateFunctions(NamedTuple):
    """A surrogate shape: ``derivative(x, width)`` replaces ``dH/dx``; ``primitive(x, width)`` is its smooth step."""

    derivative: Callable[[torch.Tensor, float], torch.Tensor]
    primitive: Callable[[torch.Tensor, float], torch.Tensor]


def _fast_sigmoid(x, w):
    return x.abs().mul_(1.0 / w).add_(1.0).square_().reciprocal_().mul_(0.5 / w)


def _fast_sigmoid_step(x, w):
    return 0.5 + 0.5 * x / (w + x.abs())


def _arctan(x, w):
    return x.square().add_(w * w).reciprocal_().mul_(w / math.pi)


def _arctan_step(x, w):
    return 0.5 + torch.atan(x / w) / math.pi


def _sigmoid(x, w):
    s = torch.sigmoid(x / w)
    return s.sub(s.square()).mul_(1.0 / w)


def _sigmoid_step(x, w):
    return torch.sigmoid(x / w)


def _triangle(x, w):
    return x.abs().mul_(-1.0 / w).add_(1.0).clamp_min_(0.0).mul_(1.0 / w)


def _triangle_step(x, w):
    z = (x / w).clamp(-1.0, 1.0)
    return torch.where(z < 0, 0.5 * (1.0 + z) ** 2, 1.0 - 0.5 * (1.0 - z) ** 2)


def _rectangular(x, w):
    return (x.abs() < w).to(x.dtype) / (2.0 * w)


def _rectangular_step(x, w):
    return (0.5 + x / (2.0 * w)).clamp(0.0, 1.0)


_REGISTRY: dict[str, SurrogateFunctions] = {
    "fast_sigmoid": SurrogateFunctions(_fast_sigmoid, _fast_sigmoid_step),
    "arctan": SurrogateFunctions(_arctan, _arctan_step),
    "sigmoid": SurrogateFunctions(_sigmoid, _sigmoid_step),
    "triangle": SurrogateFunctions(_triangle, _triangle_step),
    "rectangular": SurrogateFunctions(_rectangular, _rectangular_step),
}


def register_surrogate(name: str, derivative, primitive) -> None:
    """Add a surrogate shape under ``name``; ``primitive`` must be the integral of ``derivative`` (0 -> 1)."""
    if name in _REGISTRY:
        raise NeuroplastError(f"surrogate {name!r} is already registered; pick another name")
    _REGISTRY[name] = SurrogateFunctions(derivative, primitive)


def surrogate_names() -> list[str]:
    return sorted(_REGISTRY)


def get_surrogate(name: str) -> SurrogateFunctions:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise NeuroplastError(
            f"unknown surrogate {name!r}; choose one of {surrogate_names()} or add one with register_surrogate"
        ) from None


@dataclass(frozen=True)
class Surrogate:
    """Which surrogate shape and how wide (membrane-potential units). Hashable, so it can sit in options."""

    name: str = "fast_sigmoid"
    width: float = 0.5

    def __post_init__(self):
        get_surrogate(self.name)
        if not self.width > 0:
            raise NeuroplastError(f"surrogate width must be > 0, got {self.width}")

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return get_surrogate(self.name).derivative(x, self.width)

    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        return get_surrogate(self.name).primitive(x, self.width)


class SpikeFunction(torch.autograd.Function):
    """``H(x) = [x > 0]`` forward (strict), the surrogate derivative backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, surrogate: Surrogate) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.surrogate.derivative(x), None


def spike(x: torch.Tensor, surrogate: Surrogate = Surrogate()) -> torch.Tensor:
    """Differentiable hard spike of ``x = u - V_th``."""
    return SpikeFunction.apply(x, surrogate)
