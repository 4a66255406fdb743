"""BIP bookkeeping: optimizer groups, weight clipping that spares intrinsic parameters, and their statistics.

Intrinsic parameters (every parameter owned by a :class:`~neuroplast.neurons.LIF`) get their own learning rate,
no weight decay and no clipping (methods.md 1.4); everything else is a synaptic weight (feedforward, skip,
self-loop, recurrent).
"""

from __future__ import annotations

import torch
from torch import nn

from neuroplast.neurons import INTRINSIC_NAMES, LIF

__all__ = ["intrinsic_parameter_ids", "param_groups", "clip_weights", "intrinsic_stats"]


def intrinsic_parameter_ids(model: nn.Module) -> set[int]:
    """``id`` of every intrinsic parameter of the model, trainable or frozen."""
    return {id(p) for m in model.modules() if isinstance(m, LIF) for p in m.intrinsic_parameters(trainable_only=False)}


def param_groups(model: nn.Module, lr: float, intrinsic_lr: float, weight_decay: float = 0.0) -> list[dict]:
    """Optimizer groups ``[synaptic, intrinsic]`` (trainable parameters only; an empty group is left out)."""
    intrinsic = intrinsic_parameter_ids(model)
    synaptic_params = [p for p in model.parameters() if p.requires_grad and id(p) not in intrinsic]
    intrinsic_params = [p for p in model.parameters() if p.requires_grad and id(p) in intrinsic]
    groups = []
    if synaptic_params:
        groups.append({"name": "synaptic", "params": synaptic_params, "lr": lr, "weight_decay": weight_decay})
    if intrinsic_params:
        groups.append({"name": "intrinsic", "params": intrinsic_params, "lr": intrinsic_lr, "weight_decay": 0.0})
    return groups


@torch.no_grad()
def clip_weights(model: nn.Module, bound: float = 4.0) -> None:
    """Clamp every synaptic weight to ``[-bound, bound]`` in place; intrinsic parameters are never touched."""
    intrinsic = intrinsic_parameter_ids(model)
    for p in model.parameters():
        if id(p) not in intrinsic:
            p.clamp_(-bound, bound)


_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@torch.no_grad()
def intrinsic_stats(model: nn.Module) -> dict[str, dict[str, dict[str, float]]]:
    """``{lif module name: {tau_mem|tau_syn|threshold|gain: {mean, std, min, max, q05 .. q95}}}`` (valid values)."""
    out = {}
    for name, m in model.named_modules():
        if not isinstance(m, LIF):
            continue
        layer = {}
        for pname in INTRINSIC_NAMES:
            v = getattr(m, pname).detach().double().flatten()
            q = torch.quantile(v, torch.tensor(_QUANTILES, dtype=v.dtype))
            layer[pname] = {
                "mean": v.mean().item(),
                "std": v.std(unbiased=False).item(),
                "min": v.min().item(),
                "max": v.max().item(),
                **{f"q{round(k * 100):02d}": x.item() for k, x in zip(_QUANTILES, q)},
            }
        out[name or "neurons"] = layer
    return out
