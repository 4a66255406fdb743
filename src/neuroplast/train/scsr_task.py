"""What ScSr-SNN + BIP plugs into the trainer: encoded speech, the recurrent network, rate losses, AdamW with a
separate intrinsic-parameter group, gradient-norm and weight clipping (methods.md 1.5)."""

from __future__ import annotations

import math

import torch

from neuroplast.config import ScSrRunConfig
from neuroplast.errors import NeuroplastError
from neuroplast.functional.lif import LIFOptions
from neuroplast.functional.surrogate import Surrogate
from neuroplast.learning.bip import clip_weights, intrinsic_stats, param_groups
from neuroplast.learning.rate_losses import count_cross_entropy, kernel_loss, spike_count_loss
from neuroplast.models.scsr import ScSrSNN
from neuroplast.train.checkpoint import sample_generator

FRONTENDS = ("lyon-bsa", "mel")
SPEECH_DATASETS = ("fsdd",)


def make_encoder(name: str, options: dict):
    from neuroplast.data.speech import LyonBSAEncoder, MelThresholdEncoder

    if name not in FRONTENDS:
        raise NeuroplastError(f"unknown speech front end {name!r}; allowed: {', '.join(FRONTENDS)}")
    cls = LyonBSAEncoder if name == "lyon-bsa" else MelThresholdEncoder
    try:
        return cls(**options)
    except TypeError as exc:
        raise NeuroplastError(f"front end {name!r}: {exc}") from None


class ScSrTask:
    def __init__(self, cfg: ScSrRunConfig):
        self.cfg = cfg
        self.data_used = cfg.data.dataset
        opts = dict(cfg.data.options)
        self.split = opts.pop("split", "index")
        self.frontend = opts.pop("frontend", "lyon-bsa")
        self.frontend_options = opts.pop("frontend_options", {})
        self.workers = int(opts.pop("workers", 1))
        augment = dict(opts.pop("augment", None) or {})
        self.shift, self.drop = int(augment.pop("shift", 0)), float(augment.pop("drop", 0.0))
        self.channel_mask, self.time_mask = int(augment.pop("channel_mask", 0)), int(augment.pop("time_mask", 0))
        if augment or min(self.shift, self.channel_mask, self.time_mask) < 0 or not 0.0 <= self.drop < 1.0:
            raise NeuroplastError("data.options.augment: expected {shift: steps >= 0, drop: probability in [0, 1), "
                                  "channel_mask: channels >= 0, time_mask: steps >= 0}, "
                                  f"got {cfg.data.options.get('augment')!r}")
        if opts:
            raise NeuroplastError(f"data.options: unknown key(s) {sorted(opts)} for speech; allowed: split, "
                                  "frontend, frontend_options, workers, augment")
        if cfg.data.dataset not in SPEECH_DATASETS:
            raise NeuroplastError(f"method scsr reads speech datasets ({', '.join(SPEECH_DATASETS)}), "
                                  f"got {cfg.data.dataset!r}")

    def load_data(self, train: bool = True):
        from neuroplast.data.fsdd import load_fsdd

        d = self.cfg.data
        encoder = make_encoder(self.frontend, self.frontend_options)
        out = []
        for part, limit in (("train", d.limit_train), ("test", d.limit_test)):
            if part == "train" and not train:
                out.append((None, None))
                continue
            spikes, labels = load_fsdd(encoder, self.split, part, d.root, workers=self.workers)
            x = torch.from_numpy(spikes)[:limit]
            y = torch.from_numpy(labels)[:limit]
            if len(x) == 0:
                raise NeuroplastError(f"FSDD split {self.split!r} part {part!r} is empty")
            out.append((x, y))
        self.n_in = out[1][0].shape[2]
        self.n_classes = 10
        return out

    def init_from_data(self, model, x_train):
        """Nothing to do: ScSr-SNN weights start from their own init."""

    def build_model(self) -> ScSrSNN:
        m = self.cfg.model
        options = LIFOptions(surrogate=Surrogate(m.surrogate, m.surrogate_width), grad_method=m.grad_method,
                             feedback=m.feedback, truncation=m.truncation)
        overrides = dict(tau_mem=m.tau_mem, tau_syn=m.tau_syn, threshold=m.threshold, gain=m.gain,
                         recurrent_strength=m.recurrent_strength, density=m.density, dropout=m.dropout,
                         options=options)
        if m.skips is not None:
            overrides["skips"] = [tuple(s) for s in m.skips]
        return ScSrSNN.from_preset(m.preset, self.n_in, self.n_classes, hidden=m.hidden, **overrides)

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Batch-major uint8 spikes ``(B, T, C)`` -> time-major float ``(T, B, C)``."""
        return x.transpose(0, 1).float()

    def augment(self, x: torch.Tensor, idx: torch.Tensor, epoch: int) -> torch.Tensor:
        """Training-only: shift each utterance by up to ``shift`` steps (zero-filled), delete input spikes with
        probability ``drop``, and silence one band of up to ``channel_mask`` adjacent channels and one span of up
        to ``time_mask`` steps (SpecAugment's frequency and time masks, on spikes). Each sample's draw is seeded by
        (seed, epoch, sample index), so it does not depend on the batch composition: resumed and data-parallel
        runs see the same augmented data."""
        if not (self.shift or self.drop or self.channel_mask or self.time_mask):
            return x
        out = torch.empty_like(x)
        n_steps = x.shape[0]
        for b, i in enumerate(idx.tolist()):
            g = sample_generator(self.cfg.seed, epoch, i)
            xs = x[:, b]
            if self.shift:
                k = int(torch.randint(-self.shift, self.shift + 1, (1,), generator=g))
                xs = torch.roll(xs, k, 0)
                if k > 0:
                    xs[:min(k, n_steps)] = 0
                elif k < 0:
                    xs[max(0, n_steps + k):] = 0
            if self.drop:
                xs = xs * (torch.rand(xs.shape, generator=g) >= self.drop).to(xs)
            if self.channel_mask:
                xs = _mask_span(xs, 1, self.channel_mask, g)
            if self.time_mask:
                xs = _mask_span(xs, 0, self.time_mask, g)
            out[:, b] = xs
        return out

    def optimizer(self, model):
        lrn = self.cfg.learning
        groups = param_groups(model, lrn.lr, lrn.intrinsic_lr, lrn.weight_decay)
        return torch.optim.AdamW(groups, betas=lrn.betas)

    def lr_factor(self, epoch: int) -> float:
        """Learning-rate multiplier for an epoch; a pure function of the epoch, so resume stays exact."""
        lrn = self.cfg.learning
        if epoch < lrn.warmup_epochs:
            return (epoch + 1) / (lrn.warmup_epochs + 1)
        if lrn.lr_schedule == "constant":
            return 1.0
        span = max(1, lrn.epochs - lrn.warmup_epochs - 1)
        progress = min(1.0, (epoch - lrn.warmup_epochs) / span)
        return lrn.lr_min_factor + (1 - lrn.lr_min_factor) * 0.5 * (1 + math.cos(math.pi * progress))

    def set_epoch(self, optimizer, epoch: int):
        lrn = self.cfg.learning
        base = {"synaptic": lrn.lr, "intrinsic": lrn.intrinsic_lr}
        for group in optimizer.param_groups:
            group["lr"] = base[group["name"]] * self.lr_factor(epoch)

    def loss(self, output, y):
        lrn = self.cfg.learning
        spikes = output[0]
        if lrn.loss == "spike-count":
            return spike_count_loss(spikes, y, lrn.desired_count, lrn.undesired_count)
        if lrn.loss == "kernel":
            from neuroplast.learning.rate_losses import desired_spike_trains

            target = desired_spike_trains(y, spikes.shape[2], spikes.shape[0], int(lrn.desired_count),
                                          int(lrn.undesired_count))
            return kernel_loss(spikes, target, self.cfg.model.tau_syn)
        return count_cross_entropy(spikes, y, lrn.ce_scale)

    def after_backward(self, model):
        if self.cfg.learning.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), self.cfg.learning.grad_clip)

    def after_step(self, model):
        if self.cfg.learning.weight_clip:
            clip_weights(model, self.cfg.learning.weight_clip)

    def batch_stats(self, model, output, y, train=False, loss=None) -> dict:
        spikes, counts = output
        out_counts = spikes.sum(0)
        top = out_counts.max(dim=1, keepdim=True).values
        winner = out_counts.argmax(dim=1)
        unique = (out_counts == top).sum(dim=1) == 1
        stats = {"accuracy": ((winner == y) & unique & (top[:, 0] > 0)).sum().item()}
        if train:
            stats["loss"] = loss * len(y)
        else:
            steps = spikes.shape[0]
            for name, c in counts.items():
                stats[f"rate_{name}"] = (c.sum(1) / (c.shape[1] * steps)).sum().item()
            for name, ops in model.synaptic_operations(counts).items():
                stats[f"synops_{name}"] = ops.sum().item()
        return stats

    def summarise(self, sums: dict, n: int) -> dict:
        out = {k: v / n for k, v in sums.items()}
        syn = [k for k in out if k.startswith("synops_")]
        if syn:
            out["synaptic_operations_per_inference"] = sum(out[k] for k in syn)
        return out

    def epoch_end(self, model, sums: dict, n: int) -> dict:
        return {}

    def describe(self, model) -> dict:
        return {"preset": self.cfg.model.preset, "split": self.split, "frontend": self.frontend,
                "sizes": list(model.sizes), "skips": [list(s) for s in model.skips],
                "gradient": self.cfg.model.grad_method,
                "parameters": sum(p.numel() for p in model.parameters()),
                "intrinsic": intrinsic_stats(model),
                "metric_note": "test_accuracy: the output neuron with the most spikes; ties and silence are errors"}


def _mask_span(x: torch.Tensor, dim: int, most: int, g: torch.Generator) -> torch.Tensor:
    """``x`` with a span of ``0..most`` adjacent indices along ``dim`` (length and start drawn from ``g``) zeroed."""
    size = x.shape[dim]
    width = int(torch.randint(0, min(most, size) + 1, (1,), generator=g))
    start = int(torch.randint(0, size - width + 1, (1,), generator=g))
    if width:
        x = x.clone()
        x.narrow(dim, start, width).zero_()
    return x
