"""Property tests (hypothesis, derandomized): the fast kernels equal their plain definitions on random inputs.

Every example is exact by construction where the paths may sum in different orders: integer-valued weights
for the forwards (float sums of small integers are exact whatever the order), dyadic values for BSA. The
float64 SSTDP backward is compared with a tolerance of a few ulps because the compiled kernel and einsum add
in different orders.
"""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroplast.data.speech import bsa_encode, bsa_kernel
from neuroplast.functional.stdp import sstdp_backward, sstdp_backward_reference
from neuroplast.functional.ttfs import (if_forward, if_forward_events, if_forward_reference, latency_encode,
                                        min_pool_times)

FUZZ = settings(derandomize=True, max_examples=60, deadline=None)
FAST = settings(derandomize=True, max_examples=150, deadline=None)


@st.composite
def if_layer_cases(draw, leak: bool):
    """Input times in [0, t_max] (t_max = no spike), integer weights (inhibitory too), a threshold, a window."""
    t_max = draw(st.integers(2, 24))
    rows = draw(st.integers(0, 6))
    n_in = draw(st.integers(1, 12))
    n_out = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**31 - 1))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    g = torch.Generator().manual_seed(seed)
    silence = draw(st.floats(0.0, 0.9))  # share of inputs that never spike
    t_in = torch.randint(0, t_max + 1, (rows, n_in), generator=g)
    t_in = torch.where(torch.rand(rows, n_in, generator=g) < silence, torch.full_like(t_in, t_max), t_in).to(dtype)
    low = draw(st.integers(-4, 0))
    weight = torch.randint(low, 7, (n_out, n_in), generator=g).to(dtype)
    theta = draw(st.integers(0, 12)) + draw(st.sampled_from([0.0, 0.5]))  # integer thetas test the strict `>`
    window = draw(st.one_of(st.none(), st.integers(1, t_max)))
    tau = draw(st.sampled_from([2.0, 4.0, 8.0])) if leak else None
    return t_in, weight, float(theta), t_max, window, tau


@FUZZ
@given(if_layer_cases(leak=False))
def test_if_forward_paths_equal_reference(case):
    t_in, weight, theta, t_max, window, _ = case
    ref = if_forward_reference(t_in, weight, theta, t_max, window)
    assert ref.shape == (t_in.shape[0], weight.shape[0])
    assert ((ref >= 0) & (ref <= t_max)).all() and torch.equal(ref, ref.round())
    assert torch.equal(if_forward_events(t_in, weight, theta, t_max, window), ref)
    for backend in ("numba", "torch", "auto"):
        out = if_forward(t_in, weight, theta, t_max, window, backend=backend)
        assert out.dtype == t_in.dtype and torch.equal(out, ref), backend


@FUZZ
@given(if_layer_cases(leak=True))
def test_if_forward_leaky_equals_reference(case):
    t_in, weight, theta, t_max, window, tau = case
    ref = if_forward_reference(t_in, weight, theta, t_max, window, tau)
    assert torch.equal(if_forward_events(t_in, weight, theta, t_max, window, tau), ref)
    assert torch.equal(if_forward(t_in, weight, theta, t_max, window, tau, backend="numba"), ref)


@st.composite
def backward_cases(draw):
    t_max = draw(st.integers(2, 20))
    rows = draw(st.integers(1, 6))
    n_in = draw(st.integers(1, 10))
    n_out = draw(st.integers(1, 6))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    t_in = torch.randint(0, t_max + 1, (rows, n_in), generator=g).double()
    t_out = torch.randint(0, t_max + 1, (rows, n_out), generator=g).double()
    grad = torch.randn(rows, n_out, generator=g, dtype=torch.float64)
    grad = grad * (torch.rand(rows, n_out, generator=g) < 0.7)  # zero gradients are skipped by the kernels
    weight = torch.randn(n_out, n_in, generator=g, dtype=torch.float64) * 3
    steps = draw(st.integers(1, t_max))
    kind = draw(st.sampled_from(["step", "exp"]))
    a_plus = draw(st.floats(0.0, 2.0))
    b_minus = draw(st.floats(0.0, 2.0))
    tau = draw(st.floats(0.5, 20.0))
    return t_in, t_out, grad, weight, steps, kind, a_plus, b_minus, tau


@FUZZ
@given(backward_cases())
def test_sstdp_backward_backends_equal_reference(case):
    t_in, t_out, grad, weight, steps, kind, a_plus, b_minus, tau = case
    w_ref, t_ref = sstdp_backward_reference(t_in, t_out, grad, weight, steps, kind, a_plus, b_minus, tau)
    for backend in ("numba", "torch"):
        w_sum, t_grad = sstdp_backward(t_in, t_out, grad, weight, steps, kind, a_plus, b_minus, tau,
                                       backend=backend)
        assert w_sum.dtype == torch.float64 and t_grad.dtype == torch.float64
        torch.testing.assert_close(w_sum, w_ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(t_grad, t_ref, rtol=1e-12, atol=1e-12)
        w_only, none = sstdp_backward(t_in, t_out, grad, weight, steps, kind, a_plus, b_minus, tau,
                                      need_time_grad=False, backend=backend)
        assert none is None
        torch.testing.assert_close(w_only, w_ref, rtol=1e-12, atol=1e-12)


@FAST
@given(st.integers(2, 300), st.lists(st.floats(-2.0, 3.0, allow_nan=False), min_size=1, max_size=40))
def test_latency_encode_range_and_order(t_max, values):
    x = torch.tensor(values, dtype=torch.float64)
    t = latency_encode(x, t_max)
    assert torch.equal(t, t.round()) and ((t >= 0) & (t <= t_max - 1)).all()
    order = torch.argsort(x)  # brighter (larger x) spikes earlier or at the same step
    assert (t[order].diff() <= 0).all()
    assert latency_encode(torch.tensor([1.0]), t_max).item() == 0
    assert latency_encode(torch.tensor([0.0]), t_max).item() == t_max - 1


def min_pool_loop(t, k, s):
    b, c, h, w = t.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.empty((b, c, oh, ow))
    for n in range(b):
        for ch in range(c):
            for i in range(oh):
                for j in range(ow):
                    out[n, ch, i, j] = min(t[n, ch, i * s + di, j * s + dj] for di in range(k) for dj in range(k))
    return out


@FAST
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(0, 5), st.integers(0, 5),
       st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_min_pool_equals_loop(b, c, k, extra_h, extra_w, stride, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.randint(0, 17, (b, c, k + extra_h, k + extra_w), generator=g).float()
    out = min_pool_times(t, k, stride)
    np.testing.assert_array_equal(out.numpy(), min_pool_loop(t.numpy(), k, stride))
    if stride == k:
        assert torch.equal(min_pool_times(t, k), out)  # stride defaults to the kernel size


def bsa_loop(signal, kernel, threshold):
    """Ben's Spiker Algorithm from its definition: per channel and step, compare the two window errors over the
    next ``len(kernel)`` samples (zeros past the end); on a spike subtract the kernel from that window."""
    n_steps, n_channels = signal.shape
    width = len(kernel)
    out = np.zeros((n_steps, n_channels), dtype=bool)
    for c in range(n_channels):
        s = [float(v) for v in signal[:, c]] + [0.0] * (width - 1)
        for t in range(n_steps):
            error1 = 0.0
            error2 = 0.0
            for k in range(width):
                error1 += abs(s[t + k] - kernel[k])
                error2 += abs(s[t + k])
            if error1 <= error2 - threshold:
                out[t, c] = True
                for k in range(width):
                    s[t + k] -= kernel[k]
    return out


@FAST
@given(st.integers(1, 40), st.integers(1, 3), st.lists(st.integers(0, 8), min_size=1, max_size=8),
       st.integers(-8, 16), st.integers(0, 2**31 - 1))
def test_bsa_equals_scalar_loop_exact_values(n_steps, n_channels, kernel_eighths, threshold_eighths, seed):
    """Dyadic kernel, signal and threshold: every sum is exact, so the two must agree bit for bit."""
    rng = np.random.default_rng(seed)
    kernel = np.array(kernel_eighths, dtype=np.float64) / 8
    signal = rng.integers(-4, 24, size=(n_steps, n_channels)) / 8
    threshold = threshold_eighths / 8
    out = bsa_encode(signal, kernel, threshold)
    assert out.dtype == bool and out.shape == signal.shape
    np.testing.assert_array_equal(out, bsa_loop(signal, kernel, threshold))
    np.testing.assert_array_equal(bsa_encode(signal[:, 0], kernel, threshold), out[:, 0])  # 1-D input


@settings(derandomize=True, max_examples=30, deadline=None)
@given(st.integers(1, 60), st.integers(1, 3), st.sampled_from(["sum", "max"]), st.floats(0.0, 1.0),
       st.floats(0.1, 3.0), st.integers(0, 2**31 - 1))
def test_bsa_equals_scalar_loop_real_kernel(n_steps, n_channels, norm, threshold, level, seed):
    rng = np.random.default_rng(seed)
    kernel = bsa_kernel(norm=norm)
    signal = np.abs(rng.normal(0, level, size=(n_steps, n_channels)))
    np.testing.assert_array_equal(bsa_encode(signal, kernel, threshold), bsa_loop(signal, kernel, threshold))
