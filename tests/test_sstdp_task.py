"""The SSTDP training task's input augmentation: translations padded with 'never', flips, per-sample seeding."""

from __future__ import annotations

import pytest
import torch

from neuroplast.config import validate_config
from neuroplast.errors import NeuroplastError
from neuroplast.train.sstdp_task import SSTDPTask

T_MAX = 255


def task(shape=(1, 6, 6), flatten=True, **augment) -> SSTDPTask:
    options = {"augment": augment} if augment else {}
    cfg = validate_config({"name": "t", "method": "sstdp", "data": {"dataset": "mnist", "options": options},
                           "model": {"t_max": T_MAX, "layers": [{"type": "linear", "out": 10}]}})
    t = SSTDPTask(cfg)
    t.input_shape, t.flatten = shape, flatten
    return t


def times(batch=4, shape=(1, 6, 6), seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, T_MAX, (batch, *shape), generator=g).float()


def test_no_augmentation_is_identity():
    x = times().flatten(1)
    assert task().augment(x, torch.arange(4), 0) is x


def test_shift_is_a_translation_filled_with_never():
    x = times(batch=8)
    out = task(shift=2).augment(x.flatten(1), torch.arange(8), 1).reshape(x.shape)
    moved = 0
    for b in range(8):
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                ref = torch.full_like(x[b], float(T_MAX))
                src = x[b, :, max(0, dy):6 + min(0, dy), max(0, dx):6 + min(0, dx)]
                ref[:, max(0, -dy):6 + min(0, -dy), max(0, -dx):6 + min(0, -dx)] = src
                matches.append(torch.equal(out[b], ref) and (dy, dx))
        hit = [m for m in matches if m]
        assert len(hit) == 1, f"sample {b} is not a single translation of its input"
        moved += hit[0] != (0, 0)
    assert moved > 0


def test_flip_mirrors_some_samples_left_right():
    x = times(batch=16)
    out = task(shape=(1, 6, 6), flatten=False, flip=True).augment(x, torch.arange(16), 0)
    flipped = [torch.equal(out[b], x[b].flip(-1)) for b in range(16)]
    kept = [torch.equal(out[b], x[b]) for b in range(16)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 0 < sum(flipped) < 16


def test_intensity_dims_each_image_by_one_factor_and_keeps_silent_pixels():
    from neuroplast.data.images import encode_latency

    g = torch.Generator().manual_seed(1)
    pixels = torch.rand(8, 1, 6, 6, generator=g)
    pixels[:, :, :2] = 0.0
    x = encode_latency(pixels, T_MAX).float()
    out = task(flatten=False, intensity=0.4).augment(x, torch.arange(8), 2)
    assert torch.equal(out[:, :, :2], x[:, :, :2])
    assert bool((out >= x).all()) and bool((out < T_MAX).all())
    scales = []
    for b in range(8):
        found = [s for s in torch.linspace(0.6, 1.0, 401).tolist()
                 if torch.equal(out[b], encode_latency(s * pixels[b], T_MAX).float())
                 or (out[b] - encode_latency(s * pixels[b], T_MAX).float()).abs().max() <= 1]
        assert found, f"sample {b} is not one dimmed image"
        scales.append(found[0])
    assert max(scales) - min(scales) > 0.05


def test_draw_depends_on_sample_and_epoch_not_on_batch():
    t = task(shift=2, flip=True, intensity=0.3)
    x, idx = times(batch=6).flatten(1), torch.tensor([3, 8, 1, 40, 7, 2])
    whole = t.augment(x, idx, 3)
    assert torch.equal(whole[2:], t.augment(x[2:], idx[2:], 3))
    assert not torch.equal(whole, t.augment(x, idx, 4))


@pytest.mark.parametrize("augment", [{"shift": -1}, {"shift": 1.5}, {"flip": "yes"}, {"rotate": 10},
                                     {"intensity": 1.0}, {"intensity": -0.1}])
def test_bad_augment_options_are_named(augment):
    with pytest.raises(NeuroplastError, match="data.options.augment"):
        task(**augment)


def test_onoff_adds_the_negative_of_every_channel():
    from neuroplast.data.images import on_off

    x = torch.rand(2, 3, 4, 5)
    out = on_off(x)
    assert out.shape == (2, 6, 4, 5)
    assert torch.equal(out[:, :3], x) and torch.equal(out[:, 3:], 1 - x)


def test_onoff_must_be_a_boolean():
    cfg = validate_config({"name": "t", "method": "sstdp",
                           "data": {"dataset": "mnist", "options": {"onoff": "yes"}},
                           "model": {"layers": [{"type": "linear", "out": 10}]}})
    with pytest.raises(NeuroplastError, match="data.options.onoff"):
        SSTDPTask(cfg)


def test_onoff_doubles_the_input_channels_the_network_sees():
    cfg = validate_config({"name": "t", "method": "sstdp",
                           "data": {"dataset": "digits", "limit_train": 20, "limit_test": 10,
                                    "options": {"onoff": True}},
                           "model": {"layers": [{"type": "linear", "out": 10}]}})
    t = SSTDPTask(cfg)
    (x_train, _), _ = t.load_data()
    assert t.input_shape == (2, 8, 8) and x_train.shape[1] == 2
    assert t.build_model() is not None


def _optimizer(**learning):
    cfg = validate_config({"name": "t", "method": "sstdp", "data": {"dataset": "digits"},
                           "model": {"layers": [{"type": "linear", "out": 12},
                                                {"type": "linear", "out": 10, "lr": 2.0}]},
                           "learning": learning})
    t = SSTDPTask(cfg)
    t.input_shape, t.n_classes = (1, 8, 8), 10
    return t.optimizer(t.build_model())


def test_optimizer_defaults_to_plain_sgd_with_per_layer_rates():
    opt = _optimizer(lr=10.0)
    assert isinstance(opt, torch.optim.SGD)
    assert [g["lr"] for g in opt.param_groups] == [10.0, 2.0]
    assert all(g["momentum"] == 0.0 for g in opt.param_groups)


def test_optimizer_momentum_and_adam_are_config_choices():
    assert all(g["momentum"] == 0.9 for g in _optimizer(momentum=0.9).param_groups)
    opt = _optimizer(optimizer="adam", lr=0.01)
    assert isinstance(opt, torch.optim.Adam) and [g["lr"] for g in opt.param_groups] == [0.01, 2.0]


def test_a_layer_weight_decay_overrides_the_global_one_for_that_layer_only():
    cfg = validate_config({"name": "t", "method": "sstdp", "data": {"dataset": "digits"},
                           "model": {"layers": [{"type": "linear", "out": 12, "weight_decay": 0.0},
                                                {"type": "linear", "out": 10, "lr": 2.0}]},
                           "learning": {"lr": 10.0, "weight_decay": 1e-3}})
    t = SSTDPTask(cfg)
    t.input_shape, t.n_classes = (1, 8, 8), 10
    model = t.build_model()
    opt = t.optimizer(model)
    assert [g["weight_decay"] for g in opt.param_groups] == [0.0, 1e-3]
    before = [layer.weight.detach().clone() for layer in model.if_layers()]
    for layer in model.if_layers():
        layer.weight.grad = torch.zeros_like(layer.weight)
    opt.step()
    after = [layer.weight.detach() for layer in model.if_layers()]
    assert torch.equal(after[0], before[0])
    torch.testing.assert_close(after[1], before[1] * (1 - 2.0 * 1e-3))


@pytest.mark.parametrize("learning, field", [({"optimizer": "rmsprop"}, "optimizer"), ({"momentum": 1.0}, "momentum"),
                                             ({"optimizer": "adam", "momentum": 0.9}, "momentum applies to .*sgd")])
def test_bad_optimizer_settings_are_named(learning, field):
    with pytest.raises(NeuroplastError, match=field):
        validate_config({"name": "t", "method": "sstdp", "model": {"layers": [{"type": "linear", "out": 10}]},
                         "learning": learning})
