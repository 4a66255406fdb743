"""The numba LIF backend against the plain autograd loop: identical spikes and traces, matching gradients."""

import pytest
import torch

import neuroplast.functional.lif as lif
from neuroplast.errors import NeuroplastError
from neuroplast.functional.lif import LIFOptions, lif_scan, lif_scan_reference, resolve_backend
from neuroplast.functional.surrogate import Surrogate, register_surrogate, surrogate_names
from neuroplast.neurons import LIF
from test_lif import NAMES
from test_lif import _problem as _lif_problem

pytest.importorskip("numba")



def _problem(dtype=torch.float64, **kwargs):
    """The LIF tests' random problem, in float64 unless asked otherwise."""
    return _lif_problem(dtype=dtype, **kwargs)


def _outputs_and_grads(fn, params, options, seed=1, upstream=("s", "a")):
    w = params[5] if len(params) > 5 else None
    if fn is lif_scan_reference:
        s, a = fn(*params[:5], w, None, options)
    else:
        s, a = fn(*params[:5], w, options=options)
    g = torch.Generator().manual_seed(seed)
    gs = torch.randn(s.shape, generator=g, dtype=s.dtype)
    ga = torch.randn(a.shape, generator=g, dtype=a.dtype)
    loss = (s * gs).sum() * ("s" in upstream) + (a * ga).sum() * ("a" in upstream)
    wanted = [p for p in params if p.requires_grad]
    return (s, a), torch.autograd.grad(loss, wanted, allow_unused=True)


def _check(params, options, dtype=torch.float64, upstream=("s", "a")):
    fast_opts = LIFOptions(**{**options.__dict__, "backend": "numba"})
    (s1, a1), g1 = _outputs_and_grads(lif_scan, params, fast_opts, upstream=upstream)
    (s2, a2), g2 = _outputs_and_grads(lif_scan_reference, params, options, upstream=upstream)
    assert torch.equal(s1, s2) and torch.equal(a1, a2)
    assert 0.02 < s1.mean() < 0.6
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    for name, a, b in zip(NAMES, g1, g2):
        a = torch.zeros_like(b) if a is None and b is not None else a
        b = torch.zeros_like(a) if b is None and a is not None else b
        assert torch.allclose(a, b, **tol), name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("self_loop", [False, True])
@pytest.mark.parametrize("feedback", ["trace", "spike"])
@pytest.mark.parametrize("detach_reset", [True, False])
def test_numba_matches_autograd_reference(dtype, self_loop, feedback, detach_reset):
    params = _problem(dtype=dtype, self_loop=self_loop)
    _check(params, LIFOptions(feedback=feedback, detach_reset=detach_reset), dtype)


@pytest.mark.parametrize("truncation", [1, 6])
@pytest.mark.parametrize("feedback", ["trace", "spike"])
def test_numba_truncated_bptt(truncation, feedback):
    params = _problem()
    _check(params, LIFOptions(truncation=truncation, detach_reset=False, feedback=feedback))


@pytest.mark.parametrize("surrogate", surrogate_names())
def test_numba_every_builtin_surrogate(surrogate):
    if surrogate not in lif._numba_kernels().SURROGATE_CODES:
        pytest.skip("registered by another test")
    _check(_problem(seed=4), LIFOptions(surrogate=Surrogate(surrogate, 0.4)))


@pytest.mark.parametrize("n", [1, 300, 600])
def test_numba_block_edges(n):
    """Neuron counts below, between and beyond the kernels' blocks (256 backward, 512 forward)."""
    _check(_problem(steps=12, batch=2, n=n, seed=n), LIFOptions())


@pytest.mark.parametrize("upstream", [("s",), ("a",)])
def test_numba_one_output_used_and_partial_requires_grad(upstream):
    params = _problem(seed=6)
    params[0].requires_grad_(False)
    params[2].requires_grad_(False)
    _check(params, LIFOptions(), upstream=upstream)


@pytest.mark.parametrize("alone", range(6))
def test_numba_each_input_alone_requires_grad(alone):
    """The backward skips the parameter sums nobody asked for; each one alone must still be right."""
    params = _problem(seed=7, self_loop=True)
    for k, p in enumerate(params):
        p.requires_grad_(k == alone)
    _check(params, LIFOptions(feedback="spike"))


def test_numba_broadcast_upstream_gradient_and_noncontiguous_current():
    """``out.sum()`` hands the backward an expanded gradient; a transposed current is not contiguous."""
    params = _problem(seed=7)
    x = params[0].detach().transpose(0, 1).contiguous().transpose(0, 1).requires_grad_()
    assert not x.is_contiguous()
    rest = params[1:]
    s1, _ = lif_scan(x, *rest[:4], rest[4], options=LIFOptions(backend="numba"))
    g1 = torch.autograd.grad(s1.sum(), [x, *rest])
    s2, _ = lif_scan_reference(x, *rest[:4], rest[4], None, LIFOptions())
    g2 = torch.autograd.grad(s2.sum(), [x, *rest])
    assert torch.equal(s1, s2)
    for name, a, b in zip(NAMES, g1, g2):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), name


def test_bip_module_gradients_on_the_numba_path():
    """Every raw intrinsic parameter of a BIP neuron gets the reference gradient through the fast path."""
    torch.manual_seed(0)
    kw = dict(tau_mem=8.0, tau_syn=3.0, threshold=0.8, train_tau_mem=True, train_tau_syn=True,
              train_threshold=True, train_gain=True)
    fast = LIF(12, **kw, options=LIFOptions(backend="numba")).double()
    ref = LIF(12, **kw, options=LIFOptions(backend="reference")).double()
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(30, 4, 12, dtype=torch.float64) * 0.5 + 0.3
    w = (torch.rand(12, dtype=torch.float64) - 0.5).requires_grad_()
    grads = []
    for mod in (fast, ref):
        s, a = mod(x, self_weight=w)
        grads.append(torch.autograd.grad(s.sum() + a.square().sum(), [*mod.intrinsic_parameters(), w]))
    assert len(grads[0]) == 5
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
        assert a.abs().sum() > 0


def test_backend_choice():
    x = torch.zeros(3, 2, 4)
    assert resolve_backend(x, LIFOptions()) == "numba"
    assert resolve_backend(x.half(), LIFOptions()) == "torch"
    assert resolve_backend(x, LIFOptions(grad_method="tssl")) == "torch"
    assert resolve_backend(x, LIFOptions(spike_mode="soft")) == "torch"
    assert resolve_backend(x, LIFOptions(backend="torch")) == "torch"
    assert resolve_backend(x, LIFOptions(implementation="loop")) == "reference"
    with pytest.raises(NeuroplastError, match="numba"):
        resolve_backend(x, LIFOptions(backend="numba", spike_mode="soft"))
    with pytest.raises(NeuroplastError):
        LIFOptions(backend="numba", grad_method="tssl")
    with pytest.raises(NeuroplastError):
        LIFOptions(backend="gpu")


def test_custom_surrogate_falls_back_to_torch():
    name = "test_numba_custom_box"
    if name not in surrogate_names():
        register_surrogate(name, lambda x, w: (x.abs() < w).to(x.dtype) / (2 * w),
                           lambda x, w: (0.5 + x / (2 * w)).clamp(0, 1))
    options = LIFOptions(surrogate=Surrogate(name, 0.5))
    x = torch.zeros(3, 2, 4)
    assert resolve_backend(x, options) == "torch"


def test_all_backends_give_the_same_forward_float32():
    params = [p.detach() for p in _problem(steps=200, batch=4, n=33, dtype=torch.float32, seed=9)]
    outs = [lif_scan(*params[:5], params[5], options=LIFOptions(backend=b)) for b in ("numba", "torch", "reference")]
    for s, a in outs[1:]:
        assert torch.equal(s, outs[0][0]) and torch.equal(a, outs[0][1])


@pytest.mark.parametrize("self_loop", [False, True])
@pytest.mark.parametrize("truncation", [0, 6])
def test_torch_backend_still_matches_reference(monkeypatch, self_loop, truncation):
    """With numba the default on CPU, tests/test_lif.py's fused-scan tests run numba; keep the torch scan
    (the GPU and TSSL path) checked here, with chunk boundaries inside the sequence."""
    monkeypatch.setattr(lif, "_CHUNK_ELEMENTS", 3 * 10 * 7)
    params = _problem(self_loop=self_loop)
    options = LIFOptions(backend="torch", truncation=truncation, detach_reset=False)
    (s1, a1), g1 = _outputs_and_grads(lif_scan, params, options)
    (s2, a2), g2 = _outputs_and_grads(lif_scan_reference, params, options)
    assert torch.equal(s1, s2) and torch.equal(a1, a2)
    for name, a, b in zip(NAMES, g1, g2):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), name


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("tau", [4.0, 1.5, "per-channel"])
@pytest.mark.parametrize("kind", ["spikes", "analog"])
def test_numba_input_trace_equals_torch_lerp_loop(dtype, tau, kind):
    """The compiled trace of the network input is bit-identical to the lerp loop it replaces."""
    g = torch.Generator().manual_seed(3)
    x = torch.rand(60, 5, 13, generator=g, dtype=dtype)
    x = (x < 0.2).to(dtype) if kind == "spikes" else x
    tau_v = 1.0 + 20.0 * torch.rand(13, generator=g, dtype=dtype) if tau == "per-channel" else tau
    inv = 1.0 / (tau_v if torch.is_tensor(tau_v) else torch.full((13,), tau_v, dtype=dtype))
    inv = 1.0 - (1.0 - inv)
    a, ref = torch.zeros_like(x[0]), []
    for s in x.unbind(0):
        a = torch.lerp(a, s, inv)
        ref.append(a)
    assert lif._numba_kernels() is not None
    assert torch.equal(lif.synaptic_trace(x, tau_v), torch.stack(ref))


@pytest.mark.parametrize("backend", ["numba", "torch", "reference"])
@pytest.mark.parametrize("feedback", ["trace", "spike"])
def test_without_trace_same_spikes_and_gradients(backend, feedback):
    """``trace=False`` (an output layer) returns no trace, the same spikes and the same gradients for a loss
    on the spikes; the compiled kernel then writes its trace into one overwritten row."""
    params = _problem(self_loop=True)
    options = LIFOptions(backend=backend, feedback=feedback)
    wanted = [p for p in params if p.requires_grad]
    s1, a1 = lif_scan(*params[:5], params[5], options=options)
    s2, a2 = lif_scan(*params[:5], params[5], options=options, trace=False)
    assert a2 is None and torch.equal(s1, s2)
    g = torch.randn(s1.shape, generator=torch.Generator().manual_seed(4), dtype=s1.dtype)
    grads = [torch.autograd.grad((s * g).sum(), wanted, allow_unused=True) for s in (s1, s2)]
    for a, b in zip(*grads):
        assert (a is None and b is None) or torch.equal(a, b)


def test_kernel_one_row_trace_buffer_ends_as_the_last_step():
    kernels = lif._numba_kernels()
    x, *rest = (p.detach() for p in _problem(self_loop=True))
    alpha, beta, theta, r, w = lif._params(x, *rest)
    args = lif._numba_params(kernels, x, w, alpha, beta, theta, r)
    outs = []
    for rows in (x.shape[0], 1):
        spikes, trace = torch.empty_like(x), x.new_empty((rows,) + x.shape[1:])
        kernels.lif_forward(x.numpy(), args["w"], args["alpha"], args["coef"], args["small"], args["theta"],
                            args["r"], True, args["one"], spikes.numpy(), trace.numpy())
        outs.append((spikes, trace))
    assert torch.equal(outs[0][0], outs[1][0]) and torch.equal(outs[0][1][-1], outs[1][1][0])


def test_scsr_output_layer_keeps_no_trace():
    from neuroplast.models.scsr import ScSrSNN

    torch.manual_seed(0)
    model = ScSrSNN.from_preset("scsr-bip", 6, 3, hidden=[8, 8])
    x = (torch.rand(20, 2, 6) < 0.3).float()
    spikes, _ = model(x)
    out_layer = model.layers[-1]
    assert out_layer(torch.zeros(20, 2, out_layer.n_in), [torch.zeros(20, 2, s.shape[1]) for s in
                                                             out_layer.skip_weight], trace=False)[1] is None
    assert spikes.shape == (20, 2, 3)


def test_consumed_current_takes_its_gradient_in_place():
    """``consume_current``: the same gradients, the current's storage reused for its gradient (the memory saving
    is real), a clear error on a second backward, and a leaf current left alone."""
    params = _problem(self_loop=True)
    wanted = [p for p in params if p.requires_grad]
    options = LIFOptions(backend="numba")
    g = torch.randn(params[0].shape, generator=torch.Generator().manual_seed(5), dtype=params[0].dtype)
    grads = []
    for consume in (False, True):
        current = params[0] * 1.0  # an intermediate, as a projection's output is
        s, _ = lif_scan(current, *params[1:5], params[5], options=options, consume_current=consume)
        grads.append(torch.autograd.grad((s * g).sum(), wanted, retain_graph=True))
        if consume:
            assert torch.equal(current.detach(), grads[-1][0] / 1.0)  # d(current)/d(x) = 1: the gradient sits in it
            with pytest.raises(NeuroplastError, match="second backward"):
                torch.autograd.grad((s * g).sum(), wanted)
    for a, b in zip(*grads):
        assert torch.equal(a, b)
    leaf = params[0].detach().clone().requires_grad_()
    before = leaf.detach().clone()
    s, _ = lif_scan(leaf, *params[1:5], params[5], options=options, consume_current=True)
    (s * g).sum().backward()
    assert torch.equal(leaf.detach(), before) and not torch.equal(leaf.grad, before)


@pytest.mark.parametrize("recurrence", ["none", "self"])
def test_spiking_layer_consumes_its_projection(recurrence):
    """A SpikingLayer's own projection is consumed on the numba path: gradients equal the plain loop's, and a
    second backward through the same graph says why it cannot run."""
    from neuroplast.layers import SpikingLayer

    torch.manual_seed(0)
    x = torch.rand(30, 3, 6, dtype=torch.float64) * 2
    layers = [SpikingLayer(6, 8, recurrence, threshold=0.5, options=LIFOptions(implementation=impl)).double()
              for impl in ("fused", "loop")]
    layers[1].load_state_dict(layers[0].state_dict())
    grads, losses = [], []
    for layer in layers:
        spikes, trace = layer(x)
        losses.append(spikes.sum() + trace.sum())
        params = [p for p in layer.parameters() if p.requires_grad]
        grads.append(torch.autograd.grad(losses[-1], params, retain_graph=True, allow_unused=True))
    assert 0 < spikes.mean() < 0.7
    for a, b in zip(*grads):
        assert (a is None and b is None) or torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    with pytest.raises(NeuroplastError, match="second backward"):
        torch.autograd.grad(losses[0], [p for p in layers[0].parameters() if p.requires_grad], allow_unused=True)
