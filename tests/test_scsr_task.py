"""The ScSr training task's own pieces: input augmentation and the learning-rate schedule."""

from __future__ import annotations

import math

import pytest
import torch
import yaml

from neuroplast.config import validate_config
from neuroplast.errors import NeuroplastError
from neuroplast.train.scsr_task import ScSrTask


def task(**options) -> ScSrTask:
    learning = options.pop("learning", {})
    cfg = validate_config({"name": "t", "method": "scsr", "data": {"dataset": "fsdd", "options": options},
                           "learning": {"epochs": 11, **learning}})
    return ScSrTask(cfg)


def spikes(steps=40, batch=3, channels=5, seed=0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(steps, batch, channels, generator=g) < 0.3).float()


def test_no_augmentation_is_identity():
    x = spikes()
    assert task().augment(x, torch.arange(3), 0) is x


def test_shift_is_a_zero_filled_roll_and_drop_only_removes_spikes():
    t = task(augment={"shift": 6})
    x = spikes()
    out = t.augment(x, torch.tensor([4, 9, 17]), 2)
    for b in range(3):
        matches = []
        for k in range(-6, 7):
            ref = torch.roll(x[:, b], k, 0)
            if k > 0:
                ref[:k] = 0
            elif k < 0:
                ref[k:] = 0
            matches.append(torch.equal(out[:, b], ref))
        assert any(matches)
    d = task(augment={"drop": 0.5}).augment(x, torch.arange(3), 0)
    assert bool((d <= x).all()) and 0 < d.sum() < x.sum()


def test_augmentation_depends_on_sample_and_epoch_not_on_batch():
    """A sample gets the same draw whatever batch it lands in (resume and data-parallel runs stay exact)."""
    t = task(augment={"shift": 5, "drop": 0.2, "channel_mask": 2, "time_mask": 6})
    x = spikes(batch=4)
    idx = torch.tensor([10, 11, 12, 13])
    whole = t.augment(x, idx, 3)
    part = t.augment(x[:, 2:], idx[2:], 3)
    assert torch.equal(whole[:, 2:], part)
    assert not torch.equal(t.augment(x, idx, 4), whole)


def test_masks_silence_one_band_and_one_span_at_most():
    x = torch.ones(50, 6, 12)
    out = task(augment={"channel_mask": 4, "time_mask": 9}).augment(x, torch.arange(6), 1)
    assert bool((out <= x).all())
    for b in range(6):
        silent_channels = (out[:, b].sum(0) == 0).nonzero().flatten()
        silent_steps = (out[:, b].sum(1) == 0).nonzero().flatten()
        for silent, most in ((silent_channels, 4), (silent_steps, 9)):
            assert len(silent) <= most
            if len(silent):
                assert silent[-1] - silent[0] == len(silent) - 1
        assert out[:, b].sum() >= x[:, b].sum() - 4 * 50 - 9 * 12
    assert not torch.equal(out, x)


@pytest.mark.parametrize("augment", [{"shift": -1}, {"drop": 1.0}, {"jitter": 3}, {"channel_mask": -2},
                                     {"time_mask": -1}])
def test_bad_augmentation_is_one_clear_error(augment):
    with pytest.raises(NeuroplastError, match="data.options.augment"):
        task(augment=augment)


def test_cosine_schedule_with_warmup():
    t = task(learning={"lr_schedule": "cosine", "lr_min_factor": 0.1, "warmup_epochs": 1})
    assert t.lr_factor(0) == pytest.approx(0.5)
    assert t.lr_factor(1) == pytest.approx(1.0)
    assert t.lr_factor(10) == pytest.approx(0.1)
    mid = 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 5 / 9))  # epochs 1..10 span the cosine
    assert t.lr_factor(6) == pytest.approx(mid)
    assert task().lr_factor(7) == 1.0


def test_resume_is_exact_with_dropout_and_masks(tmp_path):
    """Dropout draws from the global generator, which checkpoints save and resume restores."""
    from neuroplast.cli import main
    from test_distributed import fake_fsdd, params, scsr_config

    cfg = scsr_config(fake_fsdd(tmp_path / "data"))
    cfg["model"]["dropout"] = 0.3
    cfg["data"]["options"]["augment"] = {"channel_mask": 2, "time_mask": 5}
    cfg["learning"]["epochs"] = 3
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main(["train", str(path), "--out", str(straight)]) == 0
    assert main(["train", str(path), "--out", str(split), "--set", "train.stop_after=1"]) == 0
    assert main(["resume", str(split)]) == 0
    a, b = params(straight), params(split)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
