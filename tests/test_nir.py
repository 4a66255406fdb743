"""NIR export/import: round trips are exact, and the graph means what neuroplast computes (checked by a small
independent forward-Euler NIR simulator here, and by snnTorch / Norse where they are installed)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

nir = pytest.importorskip("nir")

from neuroplast.errors import NeuroplastError  # noqa: E402
from neuroplast.export.nir_export import (  # noqa: E402
    NIRSemanticsWarning, import_nir, to_nir, write_nir,
)
from neuroplast.learning.sstdp import IFSpec  # noqa: E402
from neuroplast.models.scsr import ScSrSNN  # noqa: E402
from neuroplast.models.sstdp import SSTDPNet  # noqa: E402

DT = 1e-4


@pytest.fixture
def float64():
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(saved)


def _model(preset: str, bip_spread: bool = False, **kw) -> ScSrSNN:
    torch.manual_seed(3)
    m = ScSrSNN.from_preset(preset, 6, 3, hidden=(5, 4), tau_mem=4.0, tau_syn=3.0, threshold=0.3, **kw)
    with torch.no_grad():
        for layer in m.layers:
            n = layer.neurons
            n.threshold_raw.add_(0.2 * torch.randn_like(n.threshold_raw))
            n.tau_mem_raw.add_(0.5 * torch.randn_like(n.tau_mem_raw))
            n.gain_raw.add_(0.3 * torch.randn_like(n.gain_raw))
            if bip_spread:
                n.tau_syn_raw.add_(0.5 * torch.randn_like(n.tau_syn_raw))
    return m


def _input(steps=40, batch=2, n=6, p=0.4):
    g = torch.Generator().manual_seed(7)
    return (torch.rand(steps, batch, n, generator=g) < p).to(torch.get_default_dtype())


def _simulate(graph: "nir.NIRGraph", x: np.ndarray, dt: float) -> np.ndarray:
    """Forward-Euler NIR semantics: edges sum into a node; an edge closing a cycle reads the previous step."""
    nodes, edges = graph.nodes, graph.edges
    order, delayed, done = [], set(), set()
    pending = {k: {a for a, b in edges if b == k} for k in nodes}
    while len(order) < len(nodes):
        ready = sorted(k for k in nodes if k not in done and pending[k] <= done)
        if not ready:
            k = sorted(k for k in nodes if k not in done and any(a in done for a in pending[k]))[0]
            delayed |= {(a, k) for a in pending[k] - done}
            ready = [k]
        order.append(ready[0])
        done.add(ready[0])
    state, out_now, out_prev, result = {}, {}, {}, []
    for t in range(x.shape[0]):
        for k in order:
            node = nodes[k]
            if isinstance(node, nir.Input):
                out_now[k] = x[t]
                continue
            src = [(out_prev if (a, b) in delayed else out_now).get(a) for a, b in edges if b == k]
            inp = sum(s if s is not None else 0.0 for s in src)
            if isinstance(node, nir.Linear):
                out_now[k] = inp @ node.weight.T if np.ndim(inp) else np.zeros(node.weight.shape[0])
            elif isinstance(node, nir.LI):
                v = state.get(k, 0.0)
                state[k] = v + dt / node.tau * (node.v_leak - v + node.r * inp)
                out_now[k] = state[k]
            elif isinstance(node, (nir.LIF, nir.CubaLIF)):
                if isinstance(node, nir.CubaLIF):
                    i = state.get(k + ".i", 0.0)
                    i = i + dt / node.tau_syn * (-i + node.w_in * inp)
                    state[k + ".i"] = i
                    inp, tau = i, node.tau_mem
                else:
                    tau = node.tau
                v = state.get(k, 0.0)
                v = v + dt / tau * (node.v_leak - v + node.r * inp)
                z = (v > node.v_threshold).astype(float)
                state[k] = np.where(z > 0, node.v_reset, v)
                out_now[k] = z
            elif isinstance(node, nir.Output):
                result.append(inp)
        out_prev = dict(out_now)
    return np.stack(result)


PRESETS = ["feedforward", "sr", "scsr", "scsr-bip", "fc-rsnn", "sparse-rsnn"]


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("form", ["auto", "lif"])
def test_round_trip_same_outputs(preset, form, float64, tmp_path):
    model = _model(preset, bip_spread=preset == "scsr-bip")
    x = _input()
    path = write_nir(model, tmp_path / "m.nir", dt=DT, form=form)
    back = import_nir(path)
    (a, counts_a), (b, counts_b) = model(x), back(x)
    assert a.sum() > 0
    assert torch.equal(a, b)
    assert all(torch.equal(counts_a[k], counts_b[k]) for k in counts_a)
    assert back.skips == model.skips and back.recurrence == model.recurrence
    for la, lb in zip(model.layers, back.layers):
        for name in ("tau_mem", "tau_syn", "threshold", "gain"):
            assert torch.allclose(getattr(la.neurons, name), getattr(lb.neurons, name), rtol=1e-12)
            assert getattr(la.neurons, f"{name}_raw").requires_grad == getattr(lb.neurons, f"{name}_raw").requires_grad


def test_spike_feedback_round_trip(float64, tmp_path):
    from neuroplast.functional.lif import LIFOptions

    model = _model("sr", options=LIFOptions(feedback="spike"))
    graph = to_nir(model, DT)
    assert json.loads(graph.metadata["neuroplast"])["form"] == "lif"
    assert ("lif1", "rec1") in graph.edges
    back = import_nir(write_nir(model, tmp_path / "m.nir"))
    assert back.layers[0].neurons.options.feedback == "spike"
    assert torch.equal(model(_input())[0], back(_input())[0])


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("form", ["auto", "lif"])
def test_graph_means_what_the_model_computes(preset, form, float64):
    """The exported graph, run by an independent Euler simulator of NIR's equations, gives our spikes."""
    model = _model(preset, bip_spread=preset == "scsr-bip")
    x = _input()
    graph = to_nir(model, DT, form)
    ours = model(x)[0].detach().numpy()
    theirs = _simulate(graph, x.numpy(), DT)
    np.testing.assert_array_equal(theirs, ours)


def test_self_loops_are_diagonal_edges_and_skips_are_edges(float64):
    graph = to_nir(_model("scsr"), DT, "cubalif")
    rec = graph.nodes["rec1"].weight
    assert np.array_equal(rec, np.diag(np.diag(rec)))
    assert ("lif1", "rec1") in graph.edges and ("rec1", "lif1") in graph.edges
    assert ("input", "skip0_2") in graph.edges and ("skip0_2", "lif2") in graph.edges
    assert isinstance(graph.nodes["lif1"], nir.CubaLIF)
    np.testing.assert_allclose(graph.nodes["lif1"].tau_syn, 3.0 * DT)


def test_cubalif_refused_when_not_exact(float64):
    with pytest.raises(NeuroplastError, match="cubalif"):
        to_nir(_model("scsr-bip", bip_spread=True), DT, "cubalif")


def _sstdp_net():
    torch.manual_seed(0)
    spec = IFSpec(theta=3.0, t_max=20)
    layers = [{"type": "conv", "out": 3, "kernel": 3, "padding": 1, "init": [0, 1]}, {"type": "pool", "kernel": 2},
              {"type": "linear", "out": 4, "init": [0, 2]}]
    return SSTDPNet((1, 6, 6), layers, spec)


def test_sstdp_export_notes_spike_once_and_import_warns(tmp_path):
    net = _sstdp_net()
    path = write_nir(net, tmp_path / "s.nir")
    graph = nir.read(path)
    meta = json.loads(graph.metadata["neuroplast"])
    assert "spike-once" in meta["note"] and "first-spike" in meta["note"]
    assert any(isinstance(n, nir.IF) for n in graph.nodes.values())
    assert any(isinstance(n, nir.Conv2d) for n in graph.nodes.values())
    with pytest.warns(NIRSemanticsWarning, match="spike-once"):
        back = import_nir(path)
    t = torch.randint(0, 20, (5, 1, 6, 6)).float()
    assert torch.equal(net(t), back(t))


def test_sstdp_bias_at_step_zero_exports_as_per_neuron_thresholds(tmp_path):
    torch.manual_seed(1)
    spec = IFSpec(theta=3.0, t_max=20)
    layers = [{"type": "conv", "out": 3, "kernel": 3, "padding": 1, "init": [0, 1], "bias_times": [0]},
              {"type": "pool", "kernel": 2}, {"type": "linear", "out": 4, "init": [0, 2], "bias_times": [0]}]
    net = SSTDPNet((1, 6, 6), layers, spec)
    graph = to_nir(net)
    fc = net.layers[2]
    assert np.asarray(graph.nodes["fc2"].weight).shape == (4, 27)
    assert np.allclose(graph.nodes["if2"].v_threshold, 3.0 - fc.weight.detach()[:, -1].numpy())
    conv_thr = np.asarray(graph.nodes["if0"].v_threshold)
    assert np.allclose(conv_thr[:, 0, 0], 3.0 - net.layers[0].weight.detach()[:, -1].numpy())
    with pytest.warns(NIRSemanticsWarning):
        back = import_nir(write_nir(net, tmp_path / "b.nir"))
    t = torch.randint(0, 20, (5, 1, 6, 6)).float()
    assert torch.equal(net(t), back(t))


@pytest.mark.parametrize("seed, layers, warning", [
    (2, [{"type": "linear", "out": 4, "init": [0, 2], "bias_times": [0, 6]}], "after step 0"),
    (3, [{"type": "linear", "out": 12, "init": [0, 2], "winners": 3}, {"type": "linear", "out": 4, "init": [0, 3]}],
     "lateral inhibition"),
], ids=["late-bias-spikes", "winners"])
def test_sstdp_features_nir_cannot_express_warn_on_export_and_round_trip(tmp_path, seed, layers, warning):
    torch.manual_seed(seed)
    net = SSTDPNet((8,), layers, IFSpec(3.0, 20))
    with pytest.warns(NIRSemanticsWarning, match=warning):
        path = write_nir(net, tmp_path / "net.nir")
    with pytest.warns(NIRSemanticsWarning):
        back = import_nir(path)
    t = torch.randint(0, 20, (6, 8)).float()
    assert torch.equal(net(t), back(t))


def test_bare_if_graph_is_refused():
    graph = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((2, 3))),
                                   nir.IF(r=np.ones(2), v_threshold=np.ones(2)))
    with pytest.raises(NeuroplastError, match="fire once"):
        import_nir(graph)


def test_foreign_graph_is_refused_with_one_line():
    graph = nir.NIRGraph.from_list(nir.Linear(weight=np.ones((2, 3))),
                                   nir.LIF(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2)))
    with pytest.raises(NeuroplastError, match="lif1"):
        import_nir(graph)


def _peer_input():
    return _input(steps=30, p=0.4).float()


def test_norse_runs_our_graph_the_same():
    norse = pytest.importorskip("norse.torch")
    for preset in ("feedforward", "sr"):
        model = _model(preset, gain=1.0)
        x = _peer_input()
        ours = model(x)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = norse.from_nir(to_nir(model, DT), dt=DT)
        state, out = None, []
        for step in x:
            z, state = net(step, state)
            out.append(z)
        assert torch.equal(torch.stack(out), ours), preset


def test_snntorch_runs_our_feedforward_graph_the_same():
    pytest.importorskip("snntorch")
    from snntorch.import_nir import import_from_nir

    torch.manual_seed(3)
    model = ScSrSNN.from_preset("feedforward", 6, 3, hidden=(5, 4), tau_mem=4.0, tau_syn=3.0, threshold=0.3)
    x = _peer_input()
    ours = model(x)[0]
    net = import_from_nir(to_nir(model, DT))
    out = []
    for step in x:
        z = net(step)
        out.append(z[0] if isinstance(z, tuple) else z)
    assert torch.equal(torch.stack(out), ours)
