"""LIF kernels: the fused scan against the plain autograd loop, finite differences, TSSL, surrogates."""

import math

import pytest
import torch

import neuroplast.functional.lif as lif
from neuroplast.errors import NeuroplastError
from neuroplast.functional.lif import LIFOptions, lif_scan, lif_scan_reference, synaptic_trace, tssl_reference_grads
from neuroplast.functional.surrogate import Surrogate, get_surrogate, spike, surrogate_names

NAMES = ("current", "tau_mem", "tau_syn", "threshold", "gain", "self_weight")


def _problem(steps=40, batch=3, n=10, dtype=torch.float32, seed=0, self_loop=True):
    """Random current and per-neuron parameters, every one a leaf that requires grad."""
    g = torch.Generator().manual_seed(seed)

    def leaf(t):
        return t.to(dtype).requires_grad_()

    params = [
        leaf(torch.randn(steps, batch, n, generator=g) * 0.6 + 0.2),
        leaf(torch.rand(n, generator=g) * 10 + 3),
        leaf(torch.rand(n, generator=g) * 4 + 2),
        leaf(torch.rand(n, generator=g) * 0.5 + 0.7),
        leaf(torch.rand(n, generator=g) + 0.5),
    ]
    return params + ([leaf(torch.rand(n, generator=g) * 2 - 1)] if self_loop else [])


def _grads(outputs, params, seed=1):
    s, a = outputs
    g = torch.Generator().manual_seed(seed)
    gs = torch.randn(s.shape, generator=g, dtype=s.dtype)
    ga = torch.randn(a.shape, generator=g, dtype=a.dtype)
    return torch.autograd.grad((s * gs).sum() + (a * ga).sum(), params), gs, ga


def _run(fn, params, options):
    w = params[5] if len(params) > 5 else None
    if fn is lif_scan_reference:
        return fn(*params[:5], w, None, options)
    return fn(*params[:5], w, options)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("self_loop", [False, True])
@pytest.mark.parametrize("feedback", ["trace", "spike"])
@pytest.mark.parametrize("detach_reset", [True, False])
@pytest.mark.parametrize("chunk_steps", [1, 7, None])
def test_fused_matches_autograd_reference(monkeypatch, dtype, self_loop, feedback, detach_reset, chunk_steps):
    """Same spikes and traces bit for bit; gradients for the current and every intrinsic parameter agree.

    ``chunk_steps`` shrinks the backward's time chunks so chunk boundaries fall inside the sequence.
    """
    if chunk_steps:
        monkeypatch.setattr(lif, "_CHUNK_ELEMENTS", 3 * 10 * chunk_steps)
    params = _problem(dtype=dtype, self_loop=self_loop)
    options = LIFOptions(feedback=feedback, detach_reset=detach_reset)
    fast = _run(lif_scan, params, options)
    ref = _run(lif_scan_reference, params, options)
    assert torch.equal(fast[0], ref[0]) and torch.equal(fast[1], ref[1])
    assert 0.02 < fast[0].mean() < 0.6
    g_fast, _, _ = _grads(fast, params)
    g_ref, _, _ = _grads(ref, params)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    for name, a, b in zip(NAMES, g_fast, g_ref):
        assert torch.allclose(a, b, **tol), name


@pytest.mark.parametrize("truncation", [1, 6])
def test_truncated_bptt_matches_reference(monkeypatch, truncation):
    monkeypatch.setattr(lif, "_CHUNK_ELEMENTS", 3 * 10 * 4)
    params = _problem(dtype=torch.float64)
    options = LIFOptions(truncation=truncation, detach_reset=False)
    g_fast, _, _ = _grads(_run(lif_scan, params, options), params)
    g_ref, _, _ = _grads(_run(lif_scan_reference, params, options), params)
    g_full, _, _ = _grads(_run(lif_scan, params, LIFOptions(detach_reset=False)), params)
    for name, a, b in zip(NAMES, g_fast, g_ref):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12), name
    assert not torch.allclose(g_fast[0], g_full[0])


@pytest.mark.parametrize("feedback", ["trace", "spike"])
@pytest.mark.parametrize("surrogate", ["fast_sigmoid", "arctan", "sigmoid"])
def test_soft_mode_gradients_match_finite_differences(feedback, surrogate):
    """Finite differences (float64) of the fused kernel and of the reference loop, in the soft spike mode.

    Through the hard threshold the loss is piecewise constant in every parameter, so finite differences see
    zero or a jump, never the surrogate gradient. The soft mode replaces ``H(p - V_th)`` by the surrogate's
    primitive ``F`` in the forward too; its exact derivative is the surrogate, so the *same* backward code
    (reset path, trace, self-loop, decays, threshold, gain) must then equal finite differences. Hard mode
    differs only in the forward nonlinearity. All six inputs are checked, including every intrinsic parameter.
    """
    params = _problem(steps=10, batch=2, n=3, dtype=torch.float64, seed=3)
    options = LIFOptions(feedback=feedback, spike_mode="soft", surrogate=Surrogate(surrogate, 0.5), detach_reset=False)
    assert torch.autograd.gradcheck(lambda *p: lif_scan(*p[:5], p[5], options), params)
    assert torch.autograd.gradcheck(lambda *p: lif_scan_reference(*p[:5], p[5], None, options), params)


def test_hard_mode_exact_where_no_membrane_is_near_threshold():
    """Hard spikes, float64: where every membrane value stays > margin away from the threshold, spikes do not
    move under small perturbations, so the loss is smooth and its true derivative exists. With a surrogate of
    support narrower than the margin (triangle, width 0.05) the hand-written backward must equal that true
    derivative: zero for everything that only acts through spikes, and the exact trace derivative for tau_syn.
    """
    g = torch.Generator().manual_seed(5)
    steps, batch, n = 30, 2, 4
    x = 3.0 * (torch.rand(steps, batch, n, generator=g) < 0.3).double()
    params = [x, torch.full((n,), 3.0, dtype=torch.float64), torch.linspace(2.0, 5.0, n, dtype=torch.float64),
              torch.ones(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64),
              torch.linspace(-0.1, 0.1, n, dtype=torch.float64)]
    params = [p.requires_grad_() for p in params]
    options = LIFOptions(surrogate=Surrogate("triangle", 0.05), detach_reset=False)
    with torch.no_grad():
        alpha, beta, theta, r, w = lif._params(*params[:5], params[5])
        _, _, mem = lif._fused_forward(x, w, alpha, beta, theta, r, options)
    assert (mem - 1.0).abs().min() > 0.2
    (s, a), weights = lif_scan(*params[:5], params[5], options), torch.randn(steps, batch, n, generator=g).double()
    analytic = torch.autograd.grad((a * weights).sum() + s.sum(), params)

    def loss(i, delta):
        p = [q.detach().clone() for q in params]
        p[i].view(-1)[0] += delta
        s2, a2 = lif_scan(*p[:5], p[5], options)
        return ((a2 * weights).sum() + s2.sum()).item()

    for i, name in enumerate(NAMES):
        numeric = (loss(i, 1e-6) - loss(i, -1e-6)) / 2e-6
        assert analytic[i].view(-1)[0].item() == pytest.approx(numeric, rel=1e-6, abs=1e-8), name
    assert analytic[2].abs().sum() > 0


@pytest.mark.parametrize("self_loop", [False, True])
@pytest.mark.parametrize("feedback", ["trace", "spike"])
@pytest.mark.parametrize("chunk_steps", [3, None])
def test_tssl_matches_plain_loop_statement_of_the_rule(monkeypatch, self_loop, feedback, chunk_steps):
    """The fused TSSL backward (linear-time recursions) equals the O(T^2) restatement with explicit PSC
    kernel sums and next-spike bookkeeping, for the current and every intrinsic parameter."""
    if chunk_steps:
        monkeypatch.setattr(lif, "_CHUNK_ELEMENTS", 3 * 6 * chunk_steps)
    params = _problem(steps=36, batch=3, n=6, dtype=torch.float64, seed=2, self_loop=self_loop)
    options = LIFOptions(feedback=feedback, grad_method="tssl")
    out = _run(lif_scan, params, options)
    grads, gs, ga = _grads(out, params)
    w = params[5].detach() if self_loop else None
    ref = tssl_reference_grads(*[p.detach() for p in params[:5]], gs, ga, w, options)
    silent = (out[0] == 0) & (out[1] < 0.25 / params[2].detach())
    assert out[0].sum() > 10 and silent.any() and (~silent & (out[0] == 0)).any()
    for name, got in zip(NAMES, grads):
        assert torch.allclose(got, ref[name], rtol=1e-9, atol=1e-12), name


def test_tssl_gradients_finite_and_different_from_bptt():
    params = _problem(steps=200, batch=4, n=16, seed=4)
    g_tssl, _, _ = _grads(_run(lif_scan, params, LIFOptions(grad_method="tssl")), params)
    g_bptt, _, _ = _grads(_run(lif_scan, params, LIFOptions()), params)
    assert all(torch.isfinite(g).all() for g in g_tssl)
    assert not torch.allclose(g_tssl[0], g_bptt[0])


def test_tssl_needs_hard_fused_kernel():
    with pytest.raises(NeuroplastError):
        LIFOptions(grad_method="tssl", implementation="loop")
    with pytest.raises(NeuroplastError):
        lif_scan_reference(*_problem()[:5], options=LIFOptions(grad_method="tssl"))


def test_hand_worked_neuron_strict_threshold_and_hard_reset():
    """tau_m = tau_s = 2 (decays 0.5), V_th = 1, R = 1. Input 0.6, 0.6, 0.6, 0, 1.0:
    p = 0.6, 0.9, 1.05 (spike, reset to 0), 0, 1.0 (equal to V_th: no spike, the test is strict)."""
    x = torch.tensor([0.6, 0.6, 0.6, 0.0, 1.0], dtype=torch.float64).view(5, 1, 1)
    for fn in (lif_scan, lif_scan_reference):
        s, a = fn(x, 2.0, 2.0, 1.0, 1.0)
        assert s.flatten().tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
        assert torch.allclose(a.flatten(), torch.tensor([0.0, 0.0, 0.5, 0.25, 0.125], dtype=torch.float64))


def test_self_loop_feeds_back_the_previous_trace():
    """One spike at t=0 (trace 0.5); w_self = 2 feeds 2 * 0.5 = 1.0 at t=1, below the strict threshold 1;
    with feedback="spike" it feeds 2 * 1 = 2 and the neuron fires again."""
    x = torch.tensor([1.5, 0.0, 0.0]).view(3, 1, 1)
    s, _ = lif_scan(x, 2.0, 2.0, 1.0, 1.0, torch.tensor([2.0]))
    assert s.flatten().tolist() == [1.0, 0.0, 0.0]
    s, _ = lif_scan(x, 2.0, 2.0, 1.0, 1.0, torch.tensor([2.0]), LIFOptions(feedback="spike"))
    assert s.flatten().tolist() == [1.0, 1.0, 1.0]


def test_synaptic_trace_is_the_lif_trace():
    g = torch.Generator().manual_seed(0)
    spikes = (torch.rand(50, 2, 5, generator=g) < 0.2).float()
    a = synaptic_trace(spikes, 4.0)
    expected = torch.zeros(2, 5)
    for t in range(50):
        expected = 0.75 * expected + 0.25 * spikes[t]
        assert torch.allclose(a[t], expected, atol=1e-6)
    # A neuron driven to fire exactly at those spikes produces the same trace, bit for bit.
    _, trace = lif_scan(spikes * 10.0, 1.0, 4.0, 1.0, 1.0)
    assert torch.equal(trace, a)
    assert torch.equal(synaptic_trace(spikes.requires_grad_(), 4.0), a)


def test_input_errors_are_actionable():
    with pytest.raises(NeuroplastError, match="time-major"):
        lif_scan(torch.zeros(5, 3), 2.0, 2.0, 1.0, 1.0)
    with pytest.raises(NeuroplastError, match="one per neuron"):
        lif_scan(torch.zeros(5, 2, 3), torch.ones(4) * 2, 2.0, 1.0, 1.0)
    with pytest.raises(NeuroplastError, match="feedback"):
        LIFOptions(feedback="voltage")
    with pytest.raises(NeuroplastError, match="unknown surrogate"):
        Surrogate("nope")


@pytest.mark.parametrize("name", surrogate_names())
def test_surrogates_are_derivatives_of_unit_steps(name):
    sur = Surrogate(name, 0.3)
    x = torch.linspace(-40, 40, 400001, dtype=torch.float64)
    d = sur.derivative(x)
    assert (d >= 0).all()
    tail = 0.01 if name in ("arctan", "fast_sigmoid") else 1e-3
    assert torch.trapezoid(d, x).item() == pytest.approx(1.0, abs=tail)
    xs = torch.linspace(-1, 1, 37, dtype=torch.float64).requires_grad_()
    (grad,) = torch.autograd.grad(sur.primitive(xs).sum(), xs)
    assert torch.allclose(grad, sur.derivative(xs.detach()), atol=1e-9)
    assert sur.primitive(torch.tensor([-40.0, 40.0], dtype=torch.float64)).tolist() == pytest.approx([0, 1], abs=tail)
    assert get_surrogate(name).derivative is not None


def test_spike_function_is_strict_with_surrogate_backward():
    x = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
    s = spike(x, Surrogate("fast_sigmoid", 0.5))
    assert s.tolist() == [0.0, 0.0, 1.0]
    (g,) = torch.autograd.grad(s.sum(), x)
    assert g.tolist() == pytest.approx([0.25, 1.0, 0.25])
    assert math.isclose(Surrogate("arctan", 1.0).derivative(torch.tensor(0.0)).item(), 1 / math.pi, rel_tol=1e-6)
