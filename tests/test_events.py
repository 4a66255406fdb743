"""Event-driven projections of spike inputs: the compiled kernels against plain dense products, and project()."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuroplast.errors import NeuroplastError
from neuroplast.functional.projection import events_available, project

pytestmark = pytest.mark.skipif(not events_available(), reason="numba not importable")


def _spikes(rows, cols, rate=0.2, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (rng.random((rows, cols)) < rate).astype(dtype)


def test_spike_rows_lists_every_spike_in_order_and_rejects_non_spikes():
    from neuroplast.functional.events_numba import spike_rows

    x = _spikes(300, 700, rate=0.1)
    x[5] = 0  # an empty row
    x[7] = 1  # a full row
    indptr, indices = spike_rows(x)
    r, k = np.nonzero(x)
    assert indptr.tolist() == np.concatenate([[0], np.cumsum(x.sum(1).astype(np.int64))]).tolist()
    assert np.array_equal(indices, k) and indices.dtype == np.int32
    for bad in (0.5, 2.0, -1.0, np.nan, np.inf):
        y = x.copy()
        y[299, 699] = bad
        assert spike_rows(y) is None
    empty_ptr, empty_idx = spike_rows(np.zeros((0, 4), np.float32))
    assert empty_ptr.tolist() == [0] and empty_idx.size == 0


def test_spike_columns_is_the_transpose_with_rows_ascending():
    from neuroplast.functional.events_numba import spike_columns, spike_rows

    x = _spikes(500, 90, rate=0.3, seed=1)
    for parts in (1, 2, 7):
        colptr, rows = spike_columns(*spike_rows(x), 90, parts)
        k, r = np.nonzero(x.T)
        assert np.array_equal(rows, r)
        assert colptr.tolist() == np.concatenate([[0], np.cumsum(x.sum(0).astype(np.int64))]).tolist()


@pytest.mark.parametrize("n_in,n_out,rows", [(300, 700, 257), (64, 5, 40), (1100, 1030, 600)])
def test_event_kernels_equal_dense_products_exactly_on_integer_values(n_in, n_out, rows):
    """Integer-valued float64 weights and gradients make every summation order exact, so the kernels (4-way
    unrolled, column pieces of 512, row chunks) must reproduce the dense products bit for bit."""
    from neuroplast.functional.events_numba import events_forward, events_weight_grad, spike_columns, spike_rows

    rng = np.random.default_rng(2)
    x = _spikes(rows, n_in, rate=0.25, seed=3, dtype=np.float64)
    w = rng.integers(-8, 9, (n_out, n_in)).astype(np.float64)
    b = rng.integers(-8, 9, n_out).astype(np.float64)
    g = rng.integers(-8, 9, (rows, n_out)).astype(np.float64)
    indptr, indices = spike_rows(x)
    out = np.full((rows, n_out), np.nan)
    events_forward(indptr, indices, np.ascontiguousarray(w.T), b, out, False)
    assert np.array_equal(out, x @ w.T + b)
    events_forward(indptr, indices, np.ascontiguousarray(w.T), b[:0], out, True)
    assert np.array_equal(out, 2 * (x @ w.T) + b)
    colptr, in_rows = spike_columns(indptr, indices, n_in, 2)
    gwt = np.zeros((n_in, n_out))
    events_weight_grad(colptr, in_rows, g, gwt, 2)
    assert np.array_equal(gwt, (g.T @ x).T)


def test_project_event_path_matches_dense_with_gradients_float64():
    g = torch.Generator().manual_seed(4)
    x = (torch.rand(30, 4, 50, generator=g) < 0.2).double()
    s = torch.randn(30, 4, 20, generator=g, dtype=torch.float64)  # a trace: multiplied densely
    w = torch.randn(60, 50, generator=g, dtype=torch.float64, requires_grad=True)
    ws = torch.randn(60, 20, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(60, generator=g, dtype=torch.float64, requires_grad=True)
    go = torch.randn(30, 4, 60, generator=g, dtype=torch.float64)
    for inputs, weights in (([x, s], [w, ws]), ([s, x], [ws, w])):
        xr = inputs[0].clone().requires_grad_()
        ours = project([xr, inputs[1]], weights, b)
        plain = F.linear(xr, weights[0]) + F.linear(inputs[1], weights[1]) + b
        assert torch.allclose(ours, plain, rtol=1e-13, atol=1e-12)
        leaves = [xr, *weights, b]
        ours_grads = torch.autograd.grad((ours * go).sum(), leaves)
        for a, c in zip(ours_grads, torch.autograd.grad((plain * go).sum(), leaves)):
            assert torch.allclose(a, c, rtol=1e-12, atol=1e-11)
    assert torch.autograd.gradcheck(lambda w_, b_: project([x], [w_], b_, events=True), (w, b))


def test_project_event_path_float32_close_and_same_for_any_thread_count():
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(100, 8, 300, generator=g) < 0.2).float()
    w = torch.randn(200, 300, generator=g, requires_grad=True)
    b = torch.randn(200, generator=g, requires_grad=True)
    dense = F.linear(x, w, b)
    results = []
    threads = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            out = project([x], [w], b, events=True)
            grads = torch.autograd.grad(out.square().sum(), [w, b])
            results.append((out, *grads))
    finally:
        torch.set_num_threads(threads)
    assert torch.allclose(results[0][0], dense, rtol=1e-5, atol=1e-4)
    reference = torch.autograd.grad(dense.square().sum(), [w, b])
    assert torch.allclose(results[0][1], reference[0], rtol=1e-4, atol=1e-2)
    for a, c in zip(results[0], results[1]):
        assert torch.equal(a, c)


def test_project_events_switch():
    g = torch.Generator().manual_seed(6)
    x = (torch.rand(10, 3, 40, generator=g) < 0.3).float()
    trace = torch.rand(10, 3, 40, generator=g)
    w = torch.randn(7, 40, generator=g)
    assert torch.equal(project([x], [w], events=False), F.linear(x, w).contiguous())
    assert torch.equal(project([trace], [w]), F.linear(trace, w).contiguous())  # auto: not spikes, dense
    with pytest.raises(NeuroplastError, match="input 0 .*values other than 0 and 1"):
        project([trace], [w], events=True)
    with pytest.raises(NeuroplastError, match="float32 or both float64"):
        project([x.double()], [w], events=True)


def test_spiking_layer_takes_spikes_through_the_event_path_and_scsr_skips_the_check(monkeypatch):
    from neuroplast.functional import projection
    from neuroplast.layers import SpikingLayer
    from neuroplast.models.scsr import ScSrSNN

    calls = []
    real = projection._spike_rows
    monkeypatch.setattr(projection, "_spike_rows", lambda *a: calls.append(a[2]) or real(*a))
    torch.manual_seed(0)
    layer = SpikingLayer(30, 20, "self", [10])
    x = (torch.rand(25, 2, 30) < 0.3).float()
    skip = torch.rand(25, 2, 10)
    dense = F.linear(x, layer.weight) + F.linear(skip, layer.skip_weight[0])
    assert torch.allclose(layer.input_current(x, [skip]), dense, rtol=1e-5, atol=1e-5)
    assert calls == [None, None]
    calls.clear()
    model = ScSrSNN.from_preset("scsr-bip", 12, 4, hidden=[8, 8])
    model((torch.rand(15, 2, 12) < 0.2).float())
    assert calls and set(calls) == {False}


def test_dense_spikes_take_gemms_unless_events_are_required(monkeypatch):
    from neuroplast.functional import events_numba

    x = torch.ones(6, 2, 30)
    x[0, 0, :5] = 0
    w = torch.randn(4, 30, generator=torch.Generator().manual_seed(7))
    used = []
    real = events_numba.events_forward
    monkeypatch.setattr(events_numba, "events_forward", lambda *a: used.append(1) or real(*a))
    assert torch.equal(project([x], [w]), F.linear(x, w).contiguous()) and not used
    assert torch.allclose(project([x], [w], events=True), F.linear(x, w), rtol=1e-5, atol=1e-5) and used


def test_without_numba_spikes_are_multiplied_densely(monkeypatch):
    from neuroplast.functional import projection

    monkeypatch.setattr(projection, "_event_kernels", lambda: None)
    x = (torch.rand(8, 2, 12, generator=torch.Generator().manual_seed(8)) < 0.3).float()
    w = torch.randn(5, 12, generator=torch.Generator().manual_seed(9), requires_grad=True)
    assert torch.equal(project([x], [w]), F.linear(x, w).contiguous())
    assert not projection.events_available()
    with pytest.raises(NeuroplastError, match="numba is not importable"):
        project([x], [w], events=True)
