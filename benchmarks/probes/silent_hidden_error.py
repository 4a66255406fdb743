"""Probe behind docs/sstdp.md: silent hidden neurons receive the output layer's error.

In the output layer's backward a hidden neuron that did not fire (time ``t_max``) counts as arriving at ``t_max``,
so it is causal for a silent output and gets a time gradient; the weight gradient is left as it is. Applies to
the 784-H-10 networks of configs/sstdp-mnist*.yaml (the layer with 10 outputs and non-pixel inputs). Usage, as run:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/silent_hidden_error.py train \
        configs/sstdp-mnist-800.yaml --set learning.epochs=12 --out runs/silent
"""

import sys

import neuroplast.learning.sstdp as sstdp
from neuroplast.cli import main

T_MAX = 255
_backward = sstdp.sstdp_backward


def _with_silent_inputs(t_in, t_out, grad, weight, steps, *args, **kwargs):
    if t_out.shape[1] != 10 or t_in.shape[1] == 784:
        return _backward(t_in, t_out, grad, weight, steps, *args, **kwargs)
    w_sum, _ = _backward(t_in, t_out, grad, weight, steps, *args, **kwargs)
    _, time_grad = _backward(t_in, t_out, grad, weight, T_MAX + 1, *args, **kwargs)
    return w_sum, time_grad


sstdp.sstdp_backward = _with_silent_inputs
sys.exit(main(sys.argv[1:]))
