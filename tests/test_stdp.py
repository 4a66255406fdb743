"""SSTDP backward: windows, normalisation, targets, and the update on small cases worked out by hand."""

import pytest
import torch

from neuroplast.errors import NeuroplastError
from neuroplast.functional.stdp import (
    normalise_per_map,
    normalise_per_sample,
    sstdp_backward,
    sstdp_backward_reference,
    stdp_window,
)
from neuroplast.learning.sstdp import (IFSpec, SpikeOnceIFFunction, first_spike_targets, lenient_correct,
                                       mean_targets, strict_correct, time_loss)


def test_step_window_by_hand():
    pre = torch.tensor([2.0, 5.0, 7.0, 12.0])
    post = torch.tensor(5.0)
    delivered = pre < 10
    u = stdp_window(pre, post, delivered, "step", a_plus=0.8, b_minus=0.2)
    assert torch.allclose(u, torch.tensor([0.8, 0.8, -0.2, -0.2]))


def test_exp_window_by_hand():
    pre = torch.tensor([2.0, 5.0, 7.0])
    u = stdp_window(pre, torch.tensor(5.0), torch.ones(3, dtype=torch.bool), "exp", 1.0, 0.5, tau=2.0)
    expected = torch.tensor([torch.exp(torch.tensor(-1.5)), 0.0, -0.5 * torch.exp(torch.tensor(-1.0))])
    assert torch.allclose(u, expected)


def test_unknown_window_is_rejected():
    with pytest.raises(NeuroplastError, match="allowed: step, exp"):
        stdp_window(torch.zeros(1), torch.zeros(1), torch.ones(1, dtype=torch.bool), "cosine")


def test_normalisation_per_sample():
    g = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    assert torch.allclose(normalise_per_sample(g), torch.tensor([[0.6, 0.8], [0.0, 0.0]]))


def test_normalisation_per_map_by_hand():
    """(B=1, L=2 positions, C=2 maps): each map to norm 1/sqrt(2); a silent map stays zero."""
    g = torch.tensor([[[3.0, 0.0], [4.0, 0.0]]])
    out = normalise_per_map(g)
    r = 2.0 ** -0.5
    assert torch.allclose(out, torch.tensor([[[0.6 * r, 0.0], [0.8 * r, 0.0]]]))
    g2 = torch.tensor([[[3.0, 0.1], [4.0, 0.0]]])
    assert torch.allclose(normalise_per_map(g2)[0, :, 1].norm(), torch.tensor(r))
    assert torch.allclose(normalise_per_map(g2).norm(), torch.tensor(1.0))


def test_map_normalisation_reaches_conv_layers_only():
    from neuroplast.config import validate_config
    from neuroplast.learning.sstdp import IFSpec
    from neuroplast.models.sstdp import SSTDPNet

    spec = IFSpec(theta=5.0, t_max=16)
    net = SSTDPNet((1, 6, 6), [{"type": "conv", "out": 3, "kernel": 3, "normalise": "map"},
                               {"type": "linear", "out": 2}], spec)
    assert net.if_layers()[0].spec.normalise == "map" and net.if_layers()[1].spec.normalise == "sample"
    g = torch.Generator().manual_seed(0)
    t_in = torch.randint(0, 16, (4, 1, 6, 6), generator=g).float()
    net(t_in).sum().backward()
    assert torch.isfinite(net.if_layers()[0].weight.grad).all()
    plain = SSTDPNet((1, 6, 6), [{"type": "conv", "out": 3, "kernel": 3}, {"type": "linear", "out": 2}], spec)
    plain.load_state_dict(net.state_dict())
    plain(t_in).sum().backward()
    assert torch.equal(plain.if_layers()[1].weight.grad, net.if_layers()[1].weight.grad)
    assert not torch.allclose(plain.if_layers()[0].weight.grad, net.if_layers()[0].weight.grad)
    with pytest.raises(NeuroplastError, match="normalise must be"):
        IFSpec(theta=5.0, t_max=16, normalise="layer")
    with pytest.raises(Exception, match="normalise is for conv layers"):
        validate_config({"name": "t", "method": "sstdp", "data": {"dataset": "mnist"},
                         "model": {"layers": [{"type": "linear", "out": 10, "normalise": "map"}]}})


def test_update_by_hand_two_inputs_one_output():
    """One sample; inputs at t=1 (delivered) and t=8 (after the output at t=4); output gradient g=+1.

    Step window A=1, B=0.5: u = [1, -0.5]; dW = -g*u = [-1, 0.5]: strengthen the causal input, weaken the late
    one. Gradient to the inputs: only the causal one receives g*w.
    """
    t_in = torch.tensor([[1.0, 8.0]], requires_grad=True)
    weight = torch.tensor([[3.0, 2.0]], requires_grad=True)
    spec = IFSpec(theta=2.5, t_max=10, a_plus=1.0, b_minus=0.5)
    t_out = SpikeOnceIFFunction.apply(t_in, weight, spec, 1)
    assert t_out.item() == 1.0
    t_out.backward(torch.tensor([[7.0]]))  # any positive value: normalised to +1
    assert torch.allclose(weight.grad, torch.tensor([[-1.0, 0.5]]))
    assert torch.allclose(t_in.grad, torch.tensor([[3.0, 0.0]]))


def test_update_is_batch_mean_and_silent_inputs_are_not_causal():
    t_in = torch.tensor([[0.0, 10.0], [0.0, 0.0]])
    t_out = torch.tensor([[3.0], [10.0]])
    grad = torch.tensor([[1.0], [-1.0]])
    w_sum, t_grad = sstdp_backward(t_in, t_out, grad, torch.tensor([[2.0, 5.0]]), steps=10, a_plus=1.0, b_minus=0.0)
    # sample 0: input 1 never arrived (t=10 is outside the window): u = -B = 0
    assert torch.allclose(w_sum, torch.tensor([[1.0 - 1.0, -1.0]]))
    assert torch.allclose(t_grad, torch.tensor([[2.0, 0.0], [-2.0, -5.0]]))


@pytest.mark.parametrize("kind", ["step", "exp"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_compiled_backward_matches_reference(kind, dtype):
    g = torch.Generator().manual_seed(1)
    t_in = torch.randint(0, 21, (12, 30), generator=g).to(dtype)
    t_out = torch.randint(0, 21, (12, 9), generator=g).to(dtype)
    grad = torch.randn(12, 9, generator=g, dtype=dtype)
    grad[0, :3] = 0
    weight = torch.randn(9, 30, generator=g, dtype=dtype)
    ref = sstdp_backward_reference(t_in, t_out, grad, weight, 18, kind, 0.8, 0.2, 3.0)
    for backend in ("numba", "torch"):
        got = sstdp_backward(t_in, t_out, grad, weight, 18, kind, 0.8, 0.2, 3.0, backend=backend)
        tol = 1e-12 if dtype == torch.float64 else 1e-4
        assert torch.allclose(got[0].to(dtype), ref[0], atol=tol)
        assert torch.allclose(got[1].to(dtype), ref[1], atol=tol)


def test_first_layer_skips_time_gradient():
    t_in = torch.zeros(2, 3)
    w_sum, t_grad = sstdp_backward(t_in, torch.ones(2, 2), torch.ones(2, 2), torch.ones(2, 3), 5,
                                   need_time_grad=False)
    assert t_grad is None and w_sum.shape == (2, 3)


def test_first_spike_targets_by_hand():
    t_out = torch.tensor([[7.0, 3.0, 20.0], [30.0, 30.0, 30.0]])
    labels = torch.tensor([0, 2])
    target = first_spike_targets(t_out, labels, t_max=30, margin=5)
    # sample 0: tau0 = 3 -> label 0 aims at 3; neuron 1 pushed to 8; neuron 2 already later than 8 stays
    # sample 1: nothing fired -> tau0 = 25; label aims at 25; others stay at t_max
    assert target.tolist() == [[3.0, 8.0, 20.0], [30.0, 30.0, 25.0]]


def test_mean_targets_by_hand():
    t_out = torch.tensor([[4.0, 10.0, 16.0]])
    target = mean_targets(t_out, torch.tensor([1]), t_max=30, margin=6)
    # T_mean = 10; label: min(10, 10 - 2/3*6 = 6) = 6; others: max(t, 10 + 2) -> 12, 16
    assert torch.allclose(target, torch.tensor([[12.0, 6.0, 16.0]]))


def test_loss_gradient_direction():
    t_out = torch.tensor([[9.0, 3.0]], requires_grad=True)
    time_loss(t_out, torch.tensor([0]), t_max=30, margin=5).backward()
    # label neuron 0 is too late (target 3), neuron 1 too early (target 8)
    assert t_out.grad[0, 0] > 0 and t_out.grad[0, 1] < 0


def test_strict_and_lenient_accuracy():
    t_out = torch.tensor([[2.0, 5.0], [4.0, 4.0], [9.0, 9.0], [6.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 0])
    assert strict_correct(t_out, labels, t_max=9).tolist() == [True, False, False, False]
    assert lenient_correct(t_out, labels).tolist() == [True, True, True, False]


def test_dropout_silences_hidden_spikes_in_training_only():
    from neuroplast.config import validate_config
    from neuroplast.models.sstdp import SpikeOnceLinear, SSTDPNet

    spec = IFSpec(theta=20.0, t_max=32)
    layers = [{"type": "linear", "out": 40, "init": [0, 4], "dropout": 0.5}, {"type": "linear", "out": 3}]
    net = SSTDPNet((30,), layers, spec)
    plain = SSTDPNet((30,), [dict(layers[0], dropout=0.0), layers[1]], spec)
    plain.load_state_dict(net.state_dict())
    t_in = torch.randint(0, 32, (8, 30), generator=torch.Generator().manual_seed(1)).float()
    net.eval()
    assert torch.equal(net(t_in), plain(t_in))
    hidden = net.record[0][1]
    assert (hidden < 32).float().mean() > 0.5  # most hidden neurons fire, so dropping them shows

    net.train()
    torch.manual_seed(0)
    net(t_in).sum().backward()
    dropped_input = net.record[1][0] >= 32
    assert dropped_input.float().mean() > (hidden >= 32).float().mean() + 0.2  # about half silenced
    assert torch.equal(net.record[0][1], hidden)  # the record keeps the layer's own (pre-dropout) times
    # Meanwhile the next layer fires at threshold theta x (1 - p): the drive it will get when nothing is dropped.
    with torch.no_grad():
        torch.manual_seed(3)
        out = net(t_in)
        ref = SpikeOnceLinear(40, 3, IFSpec(theta=20.0 * 0.5, t_max=32))
        ref.weight.copy_(net.if_layers()[1].weight)
        assert torch.equal(out, ref(net.record[1][0]))

    # One sample: a silenced spike sends no error back (its neuron's incoming weights get no update), and the
    # output layer sees it as never arriving (non-causal: no update under A = 1, B = 0).
    net.zero_grad()
    net(t_in[:1]).sum().backward()
    silenced = (net.record[1][0][0] >= 32) & (net.record[0][1][0] < 32)
    assert silenced.sum() >= 5
    assert (net.if_layers()[0].weight.grad[silenced] == 0).all()
    assert (net.if_layers()[1].weight.grad[:, silenced] == 0).all()
    kept = ~silenced & (net.record[0][1][0] < 32)
    assert (net.if_layers()[0].weight.grad[kept] != 0).any()

    for bad in ({"type": "pool", "kernel": 2, "dropout": 0.1}, {"type": "linear", "out": 3, "dropout": 1.0}):
        with pytest.raises(Exception, match="dropout is for linear / conv layers"):
            validate_config({"name": "t", "method": "sstdp", "data": {"dataset": "mnist"},
                             "model": {"layers": [bad]}})
