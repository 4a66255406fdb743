"""SSTDP layer specs: every bad value is one NeuroplastError naming the layer, the key and the value given, never a
traceback from deep in the network; shape rules that need the input size are named where the network is built."""

from __future__ import annotations

import pytest

from neuroplast.config import load_config
from neuroplast.errors import NeuroplastError
from neuroplast.learning.sstdp import IFSpec
from neuroplast.models.sstdp import SSTDPNet
from neuroplast.train.sstdp_task import SSTDPTask
from tiny_configs import tiny_sstdp

NAN, INF = float("nan"), float("inf")


def _config(layers: list[dict]) -> dict:
    return {"name": "t", "method": "sstdp", "model": {"layers": layers}}


def _linear(**bad) -> list[dict]:
    """The bad setting on layer 0 of a linear 400 - 10 network."""
    return [{"type": "linear", "out": 400, **bad}, {"type": "linear", "out": 10}]


def _conv(**bad) -> list[dict]:
    """The bad setting on layer 1 (a conv after a pool) of an image network."""
    return [{"type": "pool", "kernel": 2}, {"type": "conv", "out": 8, "kernel": 3, **bad},
            {"type": "linear", "out": 10}]


BAD = {
    "init not a pair": (_linear(init=5), 0, "init", "5"),
    "init of strings": (_linear(init=["a", "b"]), 0, "init", "['a', 'b']"),
    "init with nan": (_linear(init=[0, NAN]), 0, "init", "[0, nan]"),
    "init with inf": (_linear(init=[0, INF]), 0, "init", "[0, inf]"),
    "init of three": (_linear(init=[0, 1, 2]), 0, "init", "[0, 1, 2]"),
    "init low > high": (_linear(init=[3, 1]), 0, "init", "[3, 1]"),
    "out a list": (_linear(out=[400]), 0, "out", "[400]"),
    "out a float": (_linear(out=400.7), 0, "out", "400.7"),
    "out a whole float": (_linear(out=400.0), 0, "out", "400.0"),
    "out a bool": (_linear(out=True), 0, "out", "True"),
    "out zero": (_linear(out=0), 0, "out", "0"),
    "out a string": (_linear(out="400"), 0, "out", "'400'"),
    "theta a list": (_linear(theta=[1]), 0, "theta", "[1]"),
    "theta nan": (_linear(theta=NAN), 0, "theta", "nan"),
    "theta zero": (_linear(theta=0), 0, "theta", "0"),
    "lr nan": (_linear(lr=NAN), 0, "lr", "nan"),
    "lr inf": (_linear(lr=INF), 0, "lr", "inf"),
    "lr a string": (_linear(lr="fast"), 0, "lr", "'fast'"),
    "weight_decay negative": (_linear(weight_decay=-1e-4), 0, "weight_decay", "-0.0001"),
    "weight_decay nan": (_linear(weight_decay=NAN), 0, "weight_decay", "nan"),
    "templates nan": (_linear(templates=NAN), 0, "templates", "nan"),
    "templates negative": (_linear(templates=-1), 0, "templates", "-1"),
    "dropout a string": (_linear(dropout="x"), 0, "dropout", "'x'"),
    "dropout nan": (_linear(dropout=NAN), 0, "dropout", "nan"),
    "dropout one": (_linear(dropout=1.0), 0, "dropout", "1.0"),
    "bias_times of bools": (_linear(bias_times=[True]), 0, "bias_times", "[True]"),
    "stride zero": (_conv(stride=0), 1, "stride", "0"),
    "stride negative": (_conv(stride=-2), 1, "stride", "-2"),
    "stride a float": (_conv(stride=1.5), 1, "stride", "1.5"),
    "padding negative": (_conv(padding=-1), 1, "padding", "-1"),
    "padding a float": (_conv(padding=0.5), 1, "padding", "0.5"),
    "kernel zero": (_conv(kernel=0), 1, "kernel", "0"),
    "kernel a float": (_conv(kernel=2.5), 1, "kernel", "2.5"),
    "kernel a list": (_conv(kernel=[3, 3]), 1, "kernel", "[3, 3]"),
    "conv out a float": (_conv(out=8.5), 1, "out", "8.5"),
    "pool stride zero": ([{"type": "pool", "kernel": 2, "stride": 0}, {"type": "linear", "out": 10}], 0, "stride",
                         "0"),
}


@pytest.mark.parametrize("layers, index, key, given", BAD.values(), ids=BAD.keys())
def test_a_bad_layer_value_is_one_line_naming_layer_key_and_value(layers, index, key, given):
    with pytest.raises(NeuroplastError) as err:
        load_config(data=_config(layers))
    msg = str(err.value)
    assert msg.startswith(f"config: model.layers: layer {index}: ") and key in msg, msg
    assert f"(got {given})" in msg, msg
    assert "\n" not in msg and "{'type'" not in msg, msg  # the offending value, not the whole list


def test_templates_says_which_rule_is_broken():
    with pytest.raises(NeuroplastError, match=r"layer 1: templates is for the first layer only \(layer 0\)"):
        load_config(data=_config([{"type": "linear", "out": 4}, {"type": "linear", "out": 3, "templates": 1.0}]))
    with pytest.raises(NeuroplastError, match=r"layer 0: templates must be a finite number > 0.*\(got -1\)"):
        load_config(data=_config([{"type": "linear", "out": 4, "templates": -1}]))
    with pytest.raises(NeuroplastError, match="layer 0: templates is for a linear / conv first layer, not pool"):
        load_config(data=_config([{"type": "pool", "kernel": 2, "templates": 1.0}, {"type": "linear", "out": 3}]))


@pytest.mark.parametrize("layers, message", [
    ([{"type": "linear"}], "layer 0: 'out' (the number of neurons) is required for a linear layer"),
    ([{"type": "conv", "out": 4}], "layer 0: 'kernel' is required for a conv layer"),
    ([{"type": "pool"}], "layer 0: 'kernel' is required for a pool layer"),
])
def test_a_missing_layer_key_is_named(layers, message):
    with pytest.raises(NeuroplastError) as err:
        load_config(data=_config(layers))
    assert message in str(err.value)


def test_good_layer_specs_still_pass():
    layers = [{"type": "conv", "out": 8, "kernel": 3, "stride": 2, "padding": 1, "init": [0, 2.5], "theta": 30,
               "lr": 0.5, "weight_decay": 0.0, "dropout": 0.0, "templates": 2, "normalise": "map", "bias_times": [0, 3]},
              {"type": "pool", "kernel": 2, "stride": 1},
              {"type": "linear", "out": 10, "init": (-1, -1), "theta": 1000.0}]
    assert load_config(data=_config(layers)).model.layers == layers


SPEC = IFSpec(theta=5.0, t_max=16)


@pytest.mark.parametrize("layers, message", [
    ([{"type": "conv", "out": 4, "kernel": 40}],
     "layer 0 (conv, kernel 40, stride 1, padding 0) receives 1x28x28 and would produce no output positions; "
     "use a kernel <= 28 or more padding"),
    ([{"type": "conv", "out": 4, "kernel": 32, "padding": 1}],
     "layer 0 (conv, kernel 32, stride 1, padding 1) receives 1x28x28 and would produce no output positions; "
     "use a kernel <= 30 or more padding"),
    ([{"type": "pool", "kernel": 50}],
     "layer 0 (pool, kernel 50, stride 50) receives 1x28x28 and would produce no output positions; use a kernel <= 28"),
    ([{"type": "conv", "out": 4, "kernel": 5, "stride": 30}, {"type": "pool", "kernel": 2}],
     "layer 1 (pool, kernel 2, stride 2) receives 4x1x1 and would produce no output positions; use a kernel <= 1"),
    ([{"type": "conv", "out": 4, "kernel": 3, "stride": 0}],
     "layer 0 (conv, kernel 3, stride 0, padding 0): kernel and stride must be >= 1 and padding >= 0"),
])
def test_a_window_that_does_not_fit_the_input_is_named(layers, message):
    with pytest.raises(NeuroplastError) as err:
        SSTDPNet((1, 28, 28), layers + [{"type": "linear", "out": 10}], SPEC)
    assert str(err.value) == message


def test_fitting_windows_give_the_expected_shapes():
    net = SSTDPNet((1, 28, 28), [{"type": "conv", "out": 4, "kernel": 28}, {"type": "pool", "kernel": 1},
                                 {"type": "conv", "out": 2, "kernel": 3, "padding": 1, "stride": 2}], SPEC)
    assert net.output_shape == (2, 1, 1)


def test_the_task_build_names_a_window_too_big_for_the_dataset():
    """digits images are 8x8, which the config cannot know: the error comes when the task builds the network."""
    data = tiny_sstdp("t", 0, 50, 20, batch_size=10, epochs=1)
    data["model"]["layers"] = [{"type": "conv", "out": 4, "kernel": 9}, {"type": "linear", "out": 10}]
    task = SSTDPTask(load_config(data=data))
    task.load_data()
    with pytest.raises(NeuroplastError, match=r"^layer 0 \(conv, kernel 9, stride 1, padding 0\) receives 1x8x8 "):
        task.build_model()
