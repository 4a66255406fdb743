"""Probe (session 18): an update closer to the spike-time gradient. The SSTDP update treats every neuron's
time error alike, but a threshold crossing moves by ``dt = -dv / slope``: a neuron whose potential rises slowly
through its threshold moves more per unit of weight than one that jumps across. Here each neuron's (already
normalised) time error is divided by its potential's slope at the crossing, ``(v(t_j) - v(t_j - K)) / K``
(silent neurons take the sample's median factor; factors clipped to [0.1, 10] x the median), and the sample's
error is rescaled to its former norm, so only the split between neurons changes. Linear layers only. Usage, as
run:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/slope_scaled.py configs/sstdp-mnist-templates.yaml 10 \
        data.validation=0.1 data.validation_fold=0

The second argument is ``K`` in steps. Prints one JSON line per epoch with held-out (``val``) and test strict
accuracy.
"""

import sys

import torch

import neuroplast.learning.sstdp as sstdp_module
from probe_loop import load_run, train_and_report

released_backward = sstdp_module.sstdp_backward


def slope_factors(t_in, t_out, weight, steps: int, k: int) -> torch.Tensor:
    """``1 / slope`` of each neuron's potential over the ``k`` steps up to its spike, per row."""
    delivered = ((t_in >= 0) & (t_in < steps))[:, None, :]
    pre = t_in[:, None, :]
    w = weight.to(t_in.dtype)
    v_now = torch.einsum("rji,ji->rj", (delivered & (pre <= t_out[:, :, None])).to(w.dtype), w)
    v_before = torch.einsum("rji,ji->rj", (delivered & (pre <= (t_out - k)[:, :, None])).to(w.dtype), w)
    factor = k / (v_now - v_before).clamp_min(1e-6)
    fired = t_out < steps
    median = torch.stack([row[f].median() if f.any() else torch.tensor(1.0, dtype=w.dtype)
                          for row, f in zip(factor, fired)])[:, None]
    factor = torch.where(fired, factor, median)
    return torch.minimum(torch.maximum(factor, 0.1 * median), 10 * median)


def main(config: str, k: int, overrides: list[str]):
    cfg, task, (x_train, y_train), val, test = load_run(config, overrides)

    def scaled_backward(t_in, t_out, grad, weight, steps, *args, **kwargs):
        scaled = grad * slope_factors(t_in, t_out, weight, steps, k).to(grad.dtype)
        norm, new = grad.norm(dim=1, keepdim=True), scaled.norm(dim=1, keepdim=True)
        grad = torch.where(new > 0, scaled * norm / new.clamp_min(1e-12), grad)
        return released_backward(t_in, t_out, grad, weight, steps, *args, **kwargs)

    sstdp_module.sstdp_backward = scaled_backward
    train_and_report(cfg, task, x_train, y_train, test, val, k=k)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
