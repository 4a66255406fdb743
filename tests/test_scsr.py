"""ScSr-SNN network, layers, BIP parameter handling and the rate losses."""

import math

import pytest
import torch

from neuroplast.errors import NeuroplastError
from neuroplast.functional.lif import LIFOptions
from neuroplast.functional.surrogate import Surrogate
from neuroplast.layers import SpikingLayer
from neuroplast.learning.bip import clip_weights, intrinsic_stats, param_groups
from neuroplast.learning.rate_losses import (
    count_cross_entropy,
    desired_spike_trains,
    kernel_loss,
    predict,
    spike_count_loss,
)
from neuroplast.models.scsr import PRESETS, ScSrSNN
from neuroplast.neurons import LIF

SIZES = dict(n_in=12, hidden=(10, 8), n_out=4)


def _net(preset="scsr-bip", **kw):
    torch.manual_seed(0)
    opts = dict(tau_mem=8.0, tau_syn=3.0, recurrent_strength=0.5, density=0.3)
    opts.update(kw)
    return ScSrSNN.from_preset(preset, SIZES["n_in"], SIZES["n_out"], SIZES["hidden"], **opts)


def _input(steps=30, batch=3, seed=0, rate=0.3):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, SIZES["n_in"], generator=g) < rate).float()


def _scale_inputs(net, factor=3.0):
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.mul_(factor)
            for w in layer.skip_weight:
                w.mul_(factor)


def test_forward_shapes_counts_and_default_topology():
    net = ScSrSNN(78, (16, 16), 5)
    assert net.skips == ((0, 2),) and net.recurrence == "self"
    assert hasattr(net.layers[0], "self_weight") and hasattr(net.layers[1], "self_weight")
    assert not hasattr(net.layers[2], "self_weight") and len(net.layers[1].skip_weight) == 1
    x = (torch.rand(20, 2, 78) < 0.2).float()
    out, counts = net(x)
    assert out.shape == (20, 2, 5)
    assert list(counts) == ["input", "hidden1", "hidden2", "output"]
    assert counts["hidden1"].shape == (2, 16) and torch.equal(counts["output"], out.sum(0))
    assert torch.equal(counts["input"], x.sum(0))


def test_presets_have_equal_neuron_counts_and_their_connections():
    nets = {name: _net(name) for name in PRESETS}
    for name, net in nets.items():
        assert net.sizes == (12, 10, 8, 4), name
    assert set(PRESETS) == {"feedforward", "fc-rsnn", "sparse-rsnn", "sr", "scsr", "scsr-bip"}
    names = {name: {n for n, _ in net.named_parameters()} for name, net in nets.items()}
    assert not any("self_weight" in n or "skip" in n or "recurrent" in n for n in names["feedforward"])
    assert "layers.0.recurrent_weight" in names["fc-rsnn"] and hasattr(nets["sparse-rsnn"].layers[0], "recurrent_mask")
    assert "layers.0.self_weight" in names["sr"] and not any("skip" in n for n in names["sr"])
    assert "layers.1.skip_weight.0" in names["scsr"]
    trainable = {n for n, p in nets["scsr-bip"].named_parameters() if p.requires_grad}
    assert "layers.2.neurons.gain_raw" in trainable and "layers.0.neurons.tau_syn_raw" in trainable
    assert not any(p.requires_grad for n, p in nets["scsr"].named_parameters() if n.endswith("_raw"))


@pytest.mark.parametrize("skips", [((0, 2),), ((0, 2), (0, 3), (1, 3))])
@pytest.mark.parametrize("grad_method", ["bptt", "tssl"])
def test_fused_network_matches_loop_network(skips, grad_method):
    """Whole network: fused scans vs autograd through the plain loops: identical outputs, equal gradients
    for weights, self-loops, skip weights and every intrinsic parameter. For TSSL there is no autograd loop,
    so the fused TSSL network is only checked for finite gradients."""
    fast = _net(skips=skips, options=LIFOptions(grad_method=grad_method))
    _scale_inputs(fast)
    x, labels = _input(), torch.tensor([0, 1, 3])
    out, _ = fast(x)
    spike_count_loss(out, labels, 6, 1).backward()
    assert out.sum() > 0
    if grad_method == "tssl":
        assert all(torch.isfinite(p.grad).all() for p in fast.parameters() if p.grad is not None)
        return
    loop = _net(skips=skips, options=LIFOptions(implementation="loop"))
    loop.load_state_dict(fast.state_dict())
    out_loop, _ = loop(x)
    spike_count_loss(out_loop, labels, 6, 1).backward()
    assert torch.equal(out, out_loop)
    for (name, p), q in zip(fast.named_parameters(), loop.parameters()):
        other = torch.zeros_like(p) if q.grad is None else q.grad
        assert torch.allclose(p.grad, other, rtol=1e-4, atol=1e-6), name


@pytest.mark.parametrize("preset", ["scsr-bip", "fc-rsnn", "sparse-rsnn"])
def test_network_gradients_match_finite_differences(preset):
    """float64 central differences of a smooth network loss in the soft spike mode (see test_lif for why the
    hard threshold cannot be differenced), for a few entries of every parameter tensor: feedforward, skip,
    self-loop / recurrent weights and the raw tau_mem, tau_syn, threshold and gain of every layer."""
    options = LIFOptions(spike_mode="soft", surrogate=Surrogate("fast_sigmoid", 0.5), detach_reset=False)
    net = _net(preset, options=options, train_tau_mem=True, train_tau_syn=True, train_threshold=True,
               train_gain=True).double()
    x = _input(steps=12, batch=2).double()
    proj = torch.randn(12, 2, 4, generator=torch.Generator().manual_seed(9), dtype=torch.float64)

    def loss():
        out, _ = net(x)
        return (out * proj).sum()

    loss().backward()
    checked = 0
    for name, p in net.named_parameters():
        flat = p.detach().view(-1)
        idx = [0, flat.numel() // 2, flat.numel() - 1]
        if name.endswith("recurrent_weight") and preset == "sparse-rsnn":
            idx = net.layers[int(name.split(".")[1])].recurrent_mask.view(-1).nonzero()[:3, 0].tolist()
        for i in idx:
            old = flat[i].item()
            with torch.no_grad():
                flat[i] = old + 1e-6
                up = loss().item()
                flat[i] = old - 1e-6
                down = loss().item()
                flat[i] = old
            assert p.grad.view(-1)[i].item() == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-7), name
            checked += 1
    assert checked >= 3 * 12


def test_sparse_recurrence_keeps_its_mask():
    net = _net("sparse-rsnn")
    layer = net.layers[0]
    assert torch.equal(layer.recurrent_weight.detach() * (1 - layer.recurrent_mask), torch.zeros(10, 10))
    out, _ = net(_input())
    out.sum().backward()
    assert (layer.recurrent_weight.grad * (1 - layer.recurrent_mask)).abs().max() == 0


def test_reparameterisation_stays_valid_after_huge_steps():
    neurons = LIF(6, tau_mem=64.0, tau_syn=8.0, threshold=1.0, gain=1.0, tau_mem_range=(32.0, 512.0),
                  train_tau_mem=True, train_tau_syn=True, train_threshold=True, train_gain=True)
    assert torch.allclose(neurons.tau_mem, torch.full((6,), 64.0)) and torch.allclose(neurons.gain, torch.ones(6))
    for value in (-1e4, 1e4):
        with torch.no_grad():
            for p in neurons.intrinsic_parameters():
                p.fill_(value)
        assert ((neurons.tau_mem >= 32.0) & (neurons.tau_mem <= 512.0)).all()
        assert (neurons.tau_syn >= 1.0).all() and torch.isfinite(neurons.tau_syn).all()
        assert (neurons.threshold > 0).all() and (neurons.gain > 0).all()
        s, a = neurons(torch.randn(20, 2, 6))
        assert torch.isfinite(a).all()
    net = _net()
    opt = torch.optim.SGD(net.parameters(), lr=1e6)
    out, _ = net(_input())
    out.sum().backward()
    opt.step()
    for m in net.modules():
        if isinstance(m, LIF):
            assert (m.tau_mem >= 1).all() and (m.tau_syn >= 1).all() and (m.threshold > 0).all() and (m.gain > 0).all()
    with pytest.raises(NeuroplastError):
        LIF(3, tau_mem=0.5)


def test_param_groups_split_synaptic_and_intrinsic():
    net = _net()
    groups = param_groups(net, lr=5e-4, intrinsic_lr=1e-2, weight_decay=1e-4)
    assert [g["name"] for g in groups] == ["synaptic", "intrinsic"]
    syn, intr = groups
    intrinsic_ids = {id(p) for m in net.modules() if isinstance(m, LIF) for p in m.intrinsic_parameters()}
    assert {id(p) for p in intr["params"]} == intrinsic_ids and len(intrinsic_ids) == 12
    assert intr["lr"] == 1e-2 and intr["weight_decay"] == 0.0 and syn["weight_decay"] == 1e-4
    assert {id(p) for p in syn["params"]} == {id(p) for n, p in net.named_parameters() if not n.endswith("_raw")}
    torch.optim.AdamW(groups)
    plain = param_groups(_net("scsr"), lr=1e-3, intrinsic_lr=1e-2)
    assert [g["name"] for g in plain] == ["synaptic"]


def test_clip_weights_spares_intrinsic_parameters():
    net = _net()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(100)
    raw = {n: p.detach().clone() for n, p in net.named_parameters() if n.endswith("_raw")}
    clip_weights(net, 4.0)
    for n, p in net.named_parameters():
        if n.endswith("_raw"):
            assert torch.equal(p, raw[n]), n
        else:
            assert p.abs().max() <= 4.0, n
    assert max(v.abs().max() for v in raw.values()) > 4.0


def test_intrinsic_stats_summarise_every_layer():
    net = _net(tau_mem=16.0)
    stats = intrinsic_stats(net)
    assert list(stats) == ["layers.0.neurons", "layers.1.neurons", "layers.2.neurons"]
    tau = stats["layers.0.neurons"]["tau_mem"]
    assert tau["mean"] == pytest.approx(16.0, rel=1e-5) and tau["std"] == pytest.approx(0.0, abs=1e-4)
    for layer in stats.values():
        assert set(layer) == {"tau_mem", "tau_syn", "threshold", "gain"}
        for s in layer.values():
            assert s["min"] <= s["q05"] <= s["q25"] <= s["q50"] <= s["q75"] <= s["q95"] <= s["max"]


def test_synaptic_operations_count_every_target():
    net = _net("scsr")
    fan = net.fan_out()
    assert fan["input"].tolist() == [10.0 + 8.0] * 12
    assert fan["hidden1"].tolist() == [8.0 + 1.0] * 10
    assert fan["hidden2"].tolist() == [4.0 + 1.0] * 8
    counts = {"input": torch.ones(2, 12), "hidden1": torch.zeros(2, 10), "hidden2": torch.ones(2, 8), "output": None}
    ops = net.synaptic_operations(counts)
    assert ops["input"].tolist() == [12 * 18.0] * 2 and ops["hidden2"].tolist() == [40.0] * 2


def test_configuration_errors_are_actionable():
    with pytest.raises(NeuroplastError, match="time-major"):
        _net()(torch.zeros(3, 30, 5))
    with pytest.raises(NeuroplastError, match="non-adjacent"):
        ScSrSNN(4, (3, 3), 2, skips=[(1, 2)])
    with pytest.raises(NeuroplastError, match="preset"):
        ScSrSNN.from_preset("lstm", 4, 2)
    with pytest.raises(NeuroplastError, match="recurrence"):
        SpikingLayer(4, 3, recurrence="dense")
    with pytest.raises(NeuroplastError, match="bptt"):
        SpikingLayer(4, 3, recurrence="all", options=LIFOptions(grad_method="tssl"))
    with pytest.raises(NeuroplastError, match="skip input"):
        SpikingLayer(4, 3, skip_sizes=[5])(torch.zeros(2, 1, 4), [torch.zeros(2, 1, 6)])


def test_spike_count_loss_hand_worked():
    """T=10, label 0, desired 4, undesired 1. Counts (2, 3, 0): errors -2 (too few at the label), +2 (too many),
    0 (below undesired is fine) -> (4 + 4) / (2 * 10) = 0.4. Counts (6, 1, 0): nothing to correct -> 0."""
    out = torch.zeros(10, 2, 3)
    out[:2, 0, 0] = 1
    out[:3, 0, 1] = 1
    out[:6, 1, 0] = 1
    out[:1, 1, 1] = 1
    out.requires_grad_()
    labels = torch.tensor([0, 0])
    loss = spike_count_loss(out[:, :1], labels[:1], 4, 1)
    assert loss.item() == pytest.approx(0.4)
    assert spike_count_loss(out[:, 1:], labels[1:], 4, 1).item() == 0.0
    (g,) = torch.autograd.grad(spike_count_loss(out, labels, 4, 1), out)
    assert g[:, 0, 0].tolist() == pytest.approx([-0.1] * 10)
    assert g[:, 0, 1].tolist() == pytest.approx([0.1] * 10)
    assert g[:, 1].abs().sum() == 0 and g[:, 0, 2].abs().sum() == 0


def test_kernel_loss_hand_worked():
    """tau 2: output spike at t=0 -> trace 0.5, 0.25, 0.125; target spike at t=1 -> 0, 0.5, 0.25.
    Differences 0.5, -0.25, -0.125 -> 0.5 * (0.25 + 0.0625 + 0.015625) = 0.1640625."""
    out = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)
    target = torch.tensor([0.0, 1.0, 0.0]).view(3, 1, 1)
    assert kernel_loss(out, target, tau_syn=2.0).item() == pytest.approx(0.1640625)
    assert kernel_loss(target, target, tau_syn=2.0).item() == 0.0


def test_cross_entropy_prediction_and_desired_trains():
    out = torch.zeros(4, 2, 3)
    out[:2, 0, 0] = 1
    out[:1, 1, 1] = 1
    out[:1, 1, 2] = 1
    assert count_cross_entropy(out[:, :1], torch.tensor([0])).item() == pytest.approx(math.log(1 + 2 * math.exp(-2)))
    assert predict(out).tolist() == [0, 1]
    trains = desired_spike_trains(torch.tensor([2, 0]), 3, 700, 35, 5)
    assert trains.shape == (700, 2, 3) and set(trains.unique().tolist()) <= {0.0, 1.0}
    assert trains.sum(0).tolist() == [[5, 5, 35], [35, 5, 5]]
    gaps = torch.diff(trains[:, 0, 2].nonzero().flatten())
    assert gaps.min() >= 19 and gaps.max() <= 21
    with pytest.raises(NeuroplastError, match="labels"):
        spike_count_loss(out, torch.tensor([0, 3]))


def test_dropout_silences_whole_neurons_in_training_only():
    x = _input(rate=0.5)
    plain, dropped = _net(), _net(dropout=0.5)
    _scale_inputs(plain)
    _scale_inputs(dropped)
    dropped.eval()
    assert torch.equal(plain(x)[0], dropped(x)[0])
    dropped.train()
    mask = dropped._dropout_mask(torch.zeros(30, 3, 10))
    assert mask.shape == (3, 10) and set(mask.unique().tolist()) <= {0.0, 2.0}
    seen = []
    hooks = [net.layers[1].register_forward_pre_hook(lambda mod, args: seen.append(args[0].detach()))
             for net in (plain, dropped)]
    plain(x)
    torch.manual_seed(4)
    dropped(x)
    for h in hooks:
        h.remove()
    base, thinned = seen
    active = base.sum(0) > 0
    kept = torch.isclose(thinned, 2.0 * base).all(0)
    gone = (thinned == 0).all(0)
    assert bool((kept | gone).all()), "a neuron's trace is either kept (x2) or silent for all steps"
    assert bool((gone & active).any()) and bool((kept & active).any())
    with pytest.raises(NeuroplastError, match="dropout"):
        _net(dropout=1.0)
