"""Bias spikes (``bias_times``): extra inputs at fixed steps with trained weights, in linear and conv layers."""

from __future__ import annotations

import pytest
import torch

from neuroplast.config import validate_config
from neuroplast.errors import NeuroplastError
from neuroplast.functional.stdp import normalise_per_sample
from neuroplast.functional.ttfs import if_forward_reference
from neuroplast.learning.sstdp import IFSpec
from neuroplast.models.sstdp import SpikeOnceConv2d, SpikeOnceLinear, SSTDPNet

T_MAX = 24


def _int_layer(n_in, n_out, bias_times, seed=0, theta=12.0):
    layer = SpikeOnceLinear(n_in, n_out, IFSpec(theta=theta, t_max=T_MAX, backend="torch"), bias_times=bias_times)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.weight.copy_(torch.randint(-2, 6, layer.weight.shape, generator=g).double())
    return layer.double()


def _times(b, n, seed=1):
    return torch.randint(0, T_MAX + 4, (b, n), generator=torch.Generator().manual_seed(seed)).clamp(max=T_MAX).double()


def test_bias_spikes_are_inputs_at_fixed_steps_in_the_reference_loop():
    layer = _int_layer(10, 6, (0, 7, 15))
    t_in = _times(32, 10)
    stacked = torch.cat([t_in, torch.tensor([0.0, 7.0, 15.0]).double().expand(32, 3)], dim=1)
    expected = if_forward_reference(stacked, layer.weight.detach(), 12.0, T_MAX)
    assert torch.equal(layer(t_in), expected)


def test_a_bias_spike_at_step_zero_is_a_learned_per_neuron_threshold():
    layer = _int_layer(10, 6, (0,))
    t_in = _times(32, 10, seed=2)
    out = layer(t_in)
    weight, bias = layer.weight.detach()[:, :10], layer.weight.detach()[:, 10]
    for j in range(6):
        alone = if_forward_reference(t_in, weight[j:j + 1], 12.0 - bias[j].item(), T_MAX)
        assert torch.equal(out[:, j:j + 1], alone)


def test_a_strong_late_bias_spike_makes_silent_neurons_fire_by_its_step():
    layer = _int_layer(5, 4, (9,))
    with torch.no_grad():
        layer.weight[:, 5] = 100.0
    silent = torch.full((3, 5), float(T_MAX), dtype=torch.float64)
    assert torch.equal(layer(silent), torch.full((3, 4), 9.0, dtype=torch.float64))


def test_bias_weights_learn_from_every_sample_and_send_no_time_gradient_back():
    layer = _int_layer(10, 6, (0,))
    t_in = _times(8, 10, seed=3).requires_grad_()
    out = layer(t_in)
    grad_out = torch.randn(8, 6, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    out.backward(grad_out)
    assert t_in.grad.shape == t_in.shape
    # Step window, A = 1: a bias spike at step 0 precedes every output time (a silent output's t_max included),
    # so its weight's update is minus the batch mean of the normalised error, for every neuron.
    expected = -normalise_per_sample(grad_out).mean(dim=0)
    assert torch.allclose(layer.weight.grad[:, 10], expected)


def test_conv_layers_give_every_patch_the_bias_spikes():
    spec = IFSpec(theta=6.0, t_max=T_MAX, backend="torch")
    conv = SpikeOnceConv2d(1, 3, 3, spec, padding=1, bias_times=(4,)).double()
    with torch.no_grad():
        conv.weight.copy_(torch.randint(0, 4, conv.weight.shape, generator=torch.Generator().manual_seed(5)).double())
        conv.weight[:, -1] = 50.0
    silent = torch.full((2, 1, 5, 5), float(T_MAX), dtype=torch.float64)
    assert torch.equal(conv(silent), torch.full((2, 3, 5, 5), 4.0, dtype=torch.float64))


def test_additions_count_the_bias_spikes_as_delivered_inputs():
    spec = IFSpec(theta=10.0, t_max=T_MAX)
    plain = SSTDPNet((6,), [{"type": "linear", "out": 4}, {"type": "linear", "out": 2}], spec)
    biased = SSTDPNet((6,), [{"type": "linear", "out": 4, "bias_times": [0, 3]}, {"type": "linear", "out": 2}],
                      spec)
    silent = torch.full((5, 6), float(T_MAX))
    plain(silent), biased(silent)
    assert plain.additions()[0] == 0.0
    assert biased.additions()[0] == 2 * 4  # two bias spikes reach each of the four neurons


@pytest.mark.parametrize("layer", [
    {"type": "pool", "kernel": 2, "bias_times": [0]},
    {"type": "linear", "out": 3, "bias_times": [-1]},
    {"type": "linear", "out": 3, "bias_times": [1.5]},
    {"type": "linear", "out": 3, "bias_times": 0},
])
def test_bad_bias_times_are_config_errors(layer):
    cfg = {"name": "x", "method": "sstdp", "model": {"layers": [layer]}}
    with pytest.raises(NeuroplastError, match="bias_times"):
        validate_config(cfg)


def test_bias_times_outside_the_simulated_steps_are_named():
    with pytest.raises(NeuroplastError, match=r"bias_times .*\[0, 20\)"):
        SSTDPNet((6,), [{"type": "linear", "out": 3, "bias_times": [20]}], IFSpec(theta=5.0, t_max=T_MAX, window=20))
