"""Winner-take-all (layer key ``winners``): only each sample's k earliest spikes of a layer pass, ties with the k-th
kept; checked against a plain loop, inside the network, in the backward and in the config."""

from __future__ import annotations

import pytest
import torch

from neuroplast.config import load_config
from neuroplast.errors import NeuroplastError
from neuroplast.functional.ttfs import first_k_times
from neuroplast.learning.sstdp import IFSpec
from neuroplast.models.sstdp import SSTDPNet

T_MAX = 20


def _first_k_loop(t: torch.Tensor, k: int, t_max: int) -> torch.Tensor:
    """The definition, one sample at a time: the k-th smallest time is the last that passes."""
    out = t.clone()
    for row in out:
        kth = sorted(row.tolist())[k - 1]
        for j in range(len(row)):
            if row[j] > kth:
                row[j] = t_max
    return out


@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_first_k_times_matches_the_loop_on_random_times_with_ties_and_silence(k):
    gen = torch.Generator().manual_seed(k)
    t = torch.randint(0, T_MAX + 1, (50, 10), generator=gen).double()
    t[::7] = T_MAX
    assert torch.equal(first_k_times(t, k, T_MAX), _first_k_loop(t, k, T_MAX))


def test_first_k_times_by_hand():
    t = torch.tensor([[4.0, 1.0, 7.0, 1.0, 20.0], [3.0, 3.0, 3.0, 9.0, 2.0], [20.0, 20.0, 5.0, 20.0, 20.0]])
    assert first_k_times(t, 2, 20).tolist() == [[20.0, 1.0, 20.0, 1.0, 20.0], [3.0, 3.0, 3.0, 20.0, 2.0],
                                                [20.0, 20.0, 5.0, 20.0, 20.0]]


def test_first_k_times_refuses_an_impossible_k():
    with pytest.raises(ValueError, match="winners k"):
        first_k_times(torch.zeros(2, 4), 5, T_MAX)


def _nets(seed: int = 0):
    torch.manual_seed(seed)
    spec = IFSpec(theta=4.0, t_max=T_MAX)
    plain = SSTDPNet((16,), [{"type": "linear", "out": 12, "init": [0, 2]},
                             {"type": "linear", "out": 3, "init": [0, 4]}], spec)
    wta = SSTDPNet((16,), [{"type": "linear", "out": 12, "init": [0, 2], "winners": 4},
                           {"type": "linear", "out": 3, "init": [0, 4]}], spec)
    wta.load_state_dict(plain.state_dict())
    return plain, wta


def test_the_next_layer_sees_only_the_winners_and_additions_count_them():
    plain, wta = _nets()
    t = torch.randint(0, T_MAX, (8, 16)).float()
    plain(t)
    wta(t)
    hidden_plain, hidden_wta = plain.record[0][1], wta.record[0][1]
    assert torch.equal(hidden_wta, first_k_times(hidden_plain, 4, T_MAX))
    assert torch.equal(wta.record[1][0], hidden_wta)
    assert ((hidden_wta < T_MAX).sum(1) <= (hidden_plain < T_MAX).sum(1)).all()
    assert wta.additions()[1] <= plain.additions()[1]


def test_silenced_neurons_get_no_weight_update():
    _, wta = _nets(1)
    t = torch.randint(0, T_MAX, (1, 16)).float()
    out = wta(t)
    out.sum().backward()
    hidden = wta.record[0][1][0]
    plain_hidden = wta.layers[0](t)[0].detach()
    silenced = (hidden == T_MAX) & (plain_hidden < T_MAX)
    assert silenced.any()
    assert (wta.layers[0].weight.grad[silenced] == 0).all()


@pytest.mark.parametrize("item, message", [
    ({"type": "linear", "out": 10, "winners": 10}, "winners must be an integer in [1, out - 1]"),
    ({"type": "linear", "out": 10, "winners": 0}, "winners must be an integer in [1, out - 1]"),
    ({"type": "linear", "out": 10, "winners": 2.5}, "(got 2.5)"),
    ({"type": "conv", "out": 4, "kernel": 3, "winners": 2}, "winners is for linear layers, not conv"),
])
def test_bad_winners_are_named(item, message):
    cfg = {"name": "t", "method": "sstdp", "model": {"layers": [item, {"type": "linear", "out": 10}]}}
    with pytest.raises(NeuroplastError) as err:
        load_config(data=cfg)
    assert message in str(err.value) and "layer 0" in str(err.value)


def test_the_network_refuses_winners_it_cannot_apply():
    with pytest.raises(NeuroplastError, match="winners is for linear layers"):
        SSTDPNet((16,), [{"type": "linear", "out": 4, "winners": 4}], IFSpec(theta=4.0, t_max=T_MAX))
