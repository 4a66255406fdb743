"""The event-driven spike-once IF forward equals plain time-stepped loops, edge cases included."""

import pytest
import torch

from neuroplast.functional.ttfs import (if_forward, if_forward_events, if_forward_reference, latency_encode,
                                        min_pool_times, unfold_times)


def scalar_loop(t_in, weight, theta, t_max, window=None, tau=None):
    """The neuron's definition, one neuron at a time, in plain Python: the tests' own specification."""
    steps = t_max if window is None else window
    rows, n_in = t_in.shape
    out = torch.full((rows, weight.shape[0]), float(t_max), dtype=t_in.dtype)
    for r in range(rows):
        for j in range(weight.shape[0]):
            v = 0.0
            for t in range(steps):
                current = sum(float(weight[j, i]) for i in range(n_in) if float(t_in[r, i]) == t)
                v = v + current if tau is None else v + (current - v) / tau
                if v > theta:
                    out[r, j] = t
                    break
    return out


PATHS = [
    lambda *a, **k: if_forward_events(*a, **k),
    lambda *a, **k: if_forward(*a, **k, backend="numba"),
    lambda *a, **k: if_forward(*a, **k, backend="auto"),
]


def random_case(seed, rows=6, n_in=20, n_out=7, t_max=16, negative=True, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    t_in = torch.randint(0, t_max + 1, (rows, n_in), generator=g).to(dtype)
    low = -3 if negative else 0
    weight = torch.randint(low, 6, (n_out, n_in), generator=g).to(dtype)
    return t_in, weight


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("path", PATHS)
def test_event_driven_matches_reference_integer_weights(seed, path):
    t_in, weight = random_case(seed)
    theta = float(4 + seed)
    ref = if_forward_reference(t_in, weight, theta, 16)
    assert torch.equal(ref, scalar_loop(t_in, weight, theta, 16))
    assert torch.equal(path(t_in, weight, theta, 16), ref)


@pytest.mark.parametrize("path", PATHS)
def test_float64_random_weights(path):
    g = torch.Generator().manual_seed(3)
    t_in = torch.randint(0, 33, (16, 50), generator=g).double()
    weight = torch.randn(30, 50, generator=g, dtype=torch.float64) * 2
    ref = if_forward_reference(t_in, weight, 5.0, 32)
    assert torch.equal(path(t_in, weight, 5.0, 32), ref)
    assert (ref < 32).any() and (ref == 32).any()


@pytest.mark.parametrize("path", PATHS)
def test_threshold_is_strict(path):
    t_in = torch.tensor([[0.0, 1.0, 2.0]])
    weight = torch.tensor([[2.0, 3.0, 1.0], [5.0, 0.0, 0.0]])
    # neuron 0 reaches exactly 5 at t=1 (no spike), 6 at t=2; neuron 1 sits at exactly 5 forever
    out = path(t_in, weight, 5.0, 10)
    assert out.tolist() == [[2.0, 10.0]]


@pytest.mark.parametrize("path", PATHS)
def test_inputs_outside_window_never_arrive(path):
    t_in = torch.tensor([[1.0, 7.0, 9.0, 10.0]])
    weight = torch.tensor([[1.0, 10.0, 10.0, 10.0], [1.0, 0.0, 0.0, 0.0]])
    assert path(t_in, weight, 5.0, 10, window=7).tolist() == [[10.0, 10.0]]
    assert path(t_in, weight, 5.0, 10, window=8).tolist() == [[7.0, 10.0]]
    assert path(t_in, weight, 5.0, 10).tolist() == [[7.0, 10.0]]


@pytest.mark.parametrize("path", PATHS)
def test_whole_step_is_added_before_the_test(path):
    # +6 and -4 arrive in the same step: the sum 2 is tested, never the partial 6
    t_in = torch.tensor([[3.0, 3.0]])
    weight = torch.tensor([[6.0, -4.0], [-4.0, 6.0]])
    assert path(t_in, weight, 5.0, 10).tolist() == [[10.0, 10.0]]


@pytest.mark.parametrize("path", PATHS)
def test_all_silent_inputs_and_empty_batch(path):
    weight = torch.ones(3, 4)
    silent = torch.full((2, 4), 10.0)
    assert torch.equal(path(silent, weight, 0.5, 10), torch.full((2, 3), 10.0))
    assert path(torch.empty(0, 4), weight, 0.5, 10).shape == (0, 3)


def test_silent_hidden_layer_propagates():
    t_in, weight = random_case(1, negative=False)
    hidden = if_forward(t_in, weight, 1e9, 16)
    assert torch.equal(hidden, torch.full_like(hidden, 16.0))
    out = if_forward(hidden, torch.ones(2, hidden.shape[1]), 0.5, 16)
    assert torch.equal(out, torch.full((t_in.shape[0], 2), 16.0))


@pytest.mark.parametrize("seed", range(4))
def test_leak_matches_reference(seed):
    t_in, weight = random_case(seed, negative=True)
    for tau in (1.0, 2.0, 5.0):
        ref = if_forward_reference(t_in.double(), weight.double(), 1.5, 16, tau=tau)
        assert torch.equal(ref, scalar_loop(t_in.double(), weight.double(), 1.5, 16, tau=tau))
        assert torch.equal(if_forward(t_in.double(), weight.double(), 1.5, 16, tau=tau), ref)


def test_latency_encoding():
    x = torch.tensor([0.0, 1.0, 0.5, 2.0, -1.0])
    assert latency_encode(x, 256).tolist() == [255.0, 0.0, 128.0, 0.0, 255.0]


def test_conv_patches_pad_with_silence_and_match_reference():
    g = torch.Generator().manual_seed(0)
    t_in = torch.randint(0, 11, (2, 2, 6, 6), generator=g).float()
    weight = torch.randint(-1, 4, (3, 2 * 3 * 3), generator=g).float()
    patches = unfold_times(t_in, 3, stride=2, padding=1, t_max=10)
    assert patches.shape == (2, 18, 9)
    assert patches[0, 0, 0] == 10.0  # top-left corner of the first patch is padding
    rows = patches.transpose(1, 2).reshape(-1, 18)
    ref = if_forward_reference(rows, weight, 4.0, 10)
    assert torch.equal(if_forward(rows, weight, 4.0, 10), ref)
    # padding never contributes: the same as a scalar loop over the unpadded neighbourhood
    assert torch.equal(ref, scalar_loop(rows, weight, 4.0, 10))


def test_min_pool_takes_earliest_spike():
    t = torch.tensor([[[[5.0, 3.0, 9.0, 9.0], [7.0, 8.0, 9.0, 1.0]]]])
    assert min_pool_times(t, 2).tolist() == [[[[3.0, 1.0]]]]
