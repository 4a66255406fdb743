"""Layer key ``templates``: the first layer's neurons start from training inputs (images or inked patches)."""

from __future__ import annotations

import json

import pytest
import torch

from neuroplast.config import validate_config
from neuroplast.errors import NeuroplastError
from neuroplast.train.sstdp_task import SSTDPTask
from neuroplast.train.trainer import train
from tiny_configs import tiny_sstdp


def _task(first: dict, seed=0, shape=(1, 6, 6)):
    cfg = validate_config({"name": "t", "method": "sstdp", "seed": seed, "data": {"dataset": "mnist"},
                           "model": {"t_max": 32, "layers": [first, {"type": "linear", "out": 3}]}})
    task = SSTDPTask(cfg)
    task.input_shape, task.n_classes = shape, 3
    return task


def _images(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 6, 6, generator=g) * (torch.rand(n, 1, 6, 6, generator=g) > 0.5)).float()


def test_linear_neurons_start_as_scaled_training_images():
    task, x = _task({"type": "linear", "out": 5, "templates": 2.5}), _images()
    model = task.build_model()
    task.init_from_data(model, x)
    w = model.if_layers()[0].weight.detach()
    flat = 2.5 * x.reshape(len(x), -1)
    for row in w:
        assert (flat - row).abs().amax(dim=1).min() < 1e-6  # each row is one image, scaled
    assert len({tuple(r.tolist()) for r in w}) == 5


def test_conv_filters_start_as_scaled_inked_patches():
    task, x = _task({"type": "conv", "out": 4, "kernel": 3, "templates": 3.0}), _images()
    model = task.build_model()
    task.init_from_data(model, x)
    w = model.if_layers()[0].weight.detach()
    patches = 3.0 * torch.nn.functional.unfold(x, 3).transpose(1, 2).reshape(-1, 9)
    for row in w:
        assert (patches - row).abs().amax(dim=1).min() < 1e-6
        assert row.sum() > 0


def test_template_draw_follows_the_seed_and_leaves_the_global_generator_alone():
    x = _images()

    def weights(seed):
        task = _task({"type": "linear", "out": 5, "templates": 1.0}, seed=seed)
        model = task.build_model()
        torch.manual_seed(7)
        task.init_from_data(model, x)
        after = torch.rand(1)
        return model.if_layers()[0].weight.detach().clone(), after

    (a, ra), (b, rb), (c, _) = weights(0), weights(0), weights(1)
    assert torch.equal(a, b) and not torch.equal(a, c) and torch.equal(ra, rb)
    torch.manual_seed(7)
    assert torch.equal(ra, torch.rand(1))


def test_too_few_inputs_for_the_neurons_is_named():
    task = _task({"type": "linear", "out": 50, "templates": 1.0})
    with pytest.raises(NeuroplastError, match="templates: the first layer has 50 neurons"):
        task.init_from_data(task.build_model(), _images(n=10))


@pytest.mark.parametrize("layers", [
    [{"type": "linear", "out": 4}, {"type": "linear", "out": 3, "templates": 1.0}],
    [{"type": "linear", "out": 4, "templates": 0}],
    [{"type": "linear", "out": 4, "templates": "yes"}],
    [{"type": "linear", "out": 4, "templates": True}],
])
def test_bad_templates_settings_are_config_errors(layers):
    with pytest.raises(NeuroplastError, match="templates"):
        validate_config({"name": "t", "method": "sstdp", "model": {"layers": layers}})


def test_a_run_with_templates_is_deterministic_and_starts_from_them(tmp_path):
    def run(name, scale):
        cfg = tiny_sstdp(name, 0, 200, 100, batch_size=20, epochs=2)
        if scale:
            cfg["model"]["layers"][0]["templates"] = scale
        cfg["train"]["out_dir"] = str(tmp_path / name)
        return train(validate_config(cfg))

    a, b, plain = run("a", 0.5), run("b", 0.5), run("plain", None)
    assert a["test_accuracy"] == b["test_accuracy"] and a["mean_output_time"] == b["mean_output_time"]
    assert a["additions_layer1"] != plain["additions_layer1"]  # other hidden spikes: other first-layer weights
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["layers"][0]["templates"] == 0.5
