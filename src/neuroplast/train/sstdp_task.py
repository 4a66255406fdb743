"""What SSTDP plugs into the trainer: latency coding, the IF network, the time loss, TTFS metrics."""

from __future__ import annotations

import math

import torch

from neuroplast.config import RunConfig
from neuroplast.data.images import deskew, encode_latency, load_image_split, normalise_ink, on_off
from neuroplast.errors import NeuroplastError
from neuroplast.learning.sstdp import IFSpec, lenient_correct, strict_correct, time_loss
from neuroplast.models.sstdp import SpikeOnceConv2d, SpikeOnceLinear, SSTDPNet
from neuroplast.train.checkpoint import sample_generator


def template_candidates(first, x_train: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Rows a first layer's neurons may start from (float64, one per candidate): whole training images, or for a
    conv layer the inked patches of its kernel's size from 2000 random images (padding never spikes, so none)."""
    if not isinstance(first, SpikeOnceConv2d):
        return x_train.reshape(len(x_train), -1).double()
    some = x_train[torch.randperm(len(x_train), generator=gen)[:2000]].double()
    rows = torch.nn.functional.unfold(some, first.kernel_size, stride=first.stride)
    rows = rows.transpose(1, 2).reshape(-1, first.n_in)
    return rows[rows.sum(dim=1) > 0.2 * first.n_in * rows.mean()]


class SSTDPTask:
    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        m, lrn = cfg.model, cfg.learning
        self.spec = IFSpec(theta=m.theta, t_max=m.t_max, window=m.window, tau_leak=m.tau_leak,
                           stdp_window=lrn.stdp_window, a_plus=lrn.a_plus, b_minus=lrn.b_minus,
                           tau_stdp=lrn.tau_stdp)
        self.data_used = cfg.data.dataset
        self.input_shape = None
        self.options = dict(cfg.data.options)
        self.onoff, self.deskew = (self._switch(name) for name in ("onoff", "deskew"))
        self.ink = self.options.pop("ink", None)
        if self.ink is not None and (isinstance(self.ink, bool) or not isinstance(self.ink, (int, float))
                                     or not math.isfinite(self.ink) or self.ink <= 0):
            raise NeuroplastError("data.options.ink: expected the least ink per image, a number > 0 (a sum of "
                                  f"intensities in [0, 1]; MNIST digits carry about 100), got {self.ink!r}")
        augment = dict(self.options.pop("augment", None) or {})
        self.shift, self.flip = augment.pop("shift", 0), augment.pop("flip", False)
        self.intensity = augment.pop("intensity", 0.0)
        if (augment or not isinstance(self.shift, int) or self.shift < 0 or not isinstance(self.flip, bool)
                or not isinstance(self.intensity, (int, float)) or not 0.0 <= self.intensity < 1.0):
            raise NeuroplastError("data.options.augment: expected {shift: pixels >= 0, flip: true|false, "
                                  f"intensity: fraction in [0, 1)}}, got {cfg.data.options.get('augment')!r}")

    def _switch(self, name: str) -> bool:
        """Pop a true / false data option that the task applies itself (the dataset readers never see it)."""
        value = self.options.pop(name, False)
        if not isinstance(value, bool):
            raise NeuroplastError(f"data.options.{name}: expected true or false, got {value!r}")
        return value

    def load_data(self, train: bool = True):
        d = self.cfg.data
        splits, fell_back = [], False
        for split, limit in (("train", d.limit_train), ("test", d.limit_test)):
            if split == "train" and not train:
                splits.append((None, None))
                continue
            x, y, self.data_used = load_image_split(d.dataset, split, d.root, self.options, limit, d.fallback,
                                                    quiet=fell_back)
            fell_back = fell_back or self.data_used != d.dataset
            if self.deskew:
                x = deskew(x)
            if self.ink is not None:
                x = normalise_ink(x, self.ink)
            if self.onoff:
                x = on_off(x)
            splits.append((x, y))
        self.input_shape = tuple(splits[1][0].shape[1:])
        self.n_classes = int(splits[1][1].max()) + 1 if splits[0][1] is None else int(splits[0][1].max()) + 1
        return splits

    def build_model(self) -> SSTDPNet:
        shape = self.input_shape
        if len(shape) == 3 and self.cfg.model.layers[0].get("type", "linear") == "linear":
            shape = (int(torch.tensor(shape).prod()),)
            self.flatten = True
        else:
            self.flatten = False
        net = SSTDPNet(shape, self.cfg.model.layers, self.spec)
        n_out = net.output_shape[0] if len(net.output_shape) == 1 else None
        if n_out is None or self.n_classes > n_out:
            got = f"{n_out} outputs" if n_out is not None else f"output shape {net.output_shape}"
            raise NeuroplastError(f"dataset {self.data_used!r} has labels 0..{self.n_classes - 1} but the last layer "
                                  f"gives {got}; end model.layers with a linear layer of out: {self.n_classes}")
        return net

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        t = encode_latency(x, self.cfg.model.t_max)
        return t.reshape(t.shape[0], -1) if self.flatten else t

    def augment(self, x: torch.Tensor, idx: torch.Tensor, epoch: int) -> torch.Tensor:
        """Training-only: translate each image by up to ``shift`` pixels per axis (the uncovered border gets
        ``t_max``, a spike that never comes), with ``flip`` mirror it left-right with probability 1/2, and with
        ``intensity: a`` dim it by a factor ``s ~ U(1 - a, 1)``: intensity ``s x`` fires at
        ``round(s t + (1 - s)(t_max - 1))``, later, so the network also meets faint inputs (pixels that never
        fire stay silent). Each sample's draw is seeded by (seed, epoch, sample index), so resumed and
        data-parallel runs see the same inputs."""
        if not self.shift and not self.flip and not self.intensity:
            return x
        t_max, k = self.cfg.model.t_max, self.shift
        img = x.reshape(x.shape[0], *self.input_shape)
        padded = torch.nn.functional.pad(img, (k, k, k, k), value=float(t_max)) if k else img
        h, w = self.input_shape[1:]
        out = torch.empty_like(img)
        for b, i in enumerate(idx.tolist()):
            g = sample_generator(self.cfg.seed, epoch, i)
            dy, dx = (int(v) for v in torch.randint(0, 2 * k + 1, (2,), generator=g))
            sample = padded[b, :, dy:dy + h, dx:dx + w]
            if self.flip and bool(torch.rand((), generator=g) < 0.5):
                sample = sample.flip(-1)
            if self.intensity:
                scale = 1.0 - self.intensity * float(torch.rand((), generator=g))
                dimmed = torch.round(scale * sample + (1.0 - scale) * (t_max - 1))
                sample = torch.where(sample >= t_max - 1, sample, dimmed)
            out[b] = sample
        return out.reshape(x.shape)

    def init_from_data(self, model, x_train):
        """Layer key ``templates: s`` (first layer): each neuron starts as ``s`` x one random training input (a
        whole image; for a conv layer an inked patch of its kernel's size), so it starts out selective for one
        pattern; a uniform init makes every neuron count the ink of any image alike. Its own generator, seeded by
        ``seed``, keeps the run's other random draws unchanged."""
        scale = self.cfg.model.layers[0].get("templates")
        if scale is None:
            return
        first = model.if_layers()[0]
        gen = torch.Generator().manual_seed(self.cfg.seed)
        rows = template_candidates(first, x_train, gen)
        if len(rows) < first.n_out:
            raise NeuroplastError(f"templates: the first layer has {first.n_out} neurons but the training set gives "
                                  f"only {len(rows)} inputs to start them from; use fewer neurons or more data")
        pick = torch.randperm(len(rows), generator=gen)[:first.n_out]
        with torch.no_grad():
            first.weight[:, :first.n_in] = (float(scale) * rows[pick]).to(first.weight.dtype)

    def optimizer(self, model):
        """SGD (or Adam); a layer spec's ``lr`` and ``weight_decay`` override ``learning.lr`` and
        ``learning.weight_decay`` (conv layers sum their update over positions; a layer may need its own decay)."""
        lrn = self.cfg.learning
        specs = [item for item in self.cfg.model.layers if item.get("type", "linear") != "pool"]
        groups = []
        for layer, item in zip(model.if_layers(), specs):
            lr = float(item.get("lr", lrn.lr))
            groups.append({"params": [layer.weight], "lr": lr, "base_lr": lr,
                           "weight_decay": float(item.get("weight_decay", lrn.weight_decay))})
        if lrn.optimizer == "adam":
            return torch.optim.Adam(groups, lr=lrn.lr, weight_decay=lrn.weight_decay)
        return torch.optim.SGD(groups, lr=lrn.lr, momentum=lrn.momentum, weight_decay=lrn.weight_decay)

    def after_backward(self, model):
        pass

    def after_step(self, model):
        pass

    def set_epoch(self, optimizer, epoch: int):
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * self.cfg.learning.lr_decay ** epoch

    def loss(self, t_out, y):
        lrn = self.cfg.learning
        return time_loss(t_out, y, self.cfg.model.t_max, lrn.target_rule, lrn.margin)

    def batch_stats(self, model, t_out, y, train=False, loss=None) -> dict:
        t_max = self.cfg.model.t_max
        stats = {
            "accuracy": strict_correct(t_out, y, t_max).sum().item(),
            "lenient_accuracy": lenient_correct(t_out, y).sum().item(),
            "mean_output_time": t_out.min(dim=1).values.sum().item(),
        }
        if train:
            stats["loss"] = loss * len(y)
            for k, (_, t_layer) in enumerate(model.record[:-1]):
                fired = (t_layer < t_max).reshape(t_layer.shape[0], t_layer.shape[1], -1).any(dim=2)
                stats[f"fired_{k}"] = fired.sum(dim=0).double()
        else:
            for k, adds in enumerate(model.additions()):
                stats[f"additions_layer{k}"] = adds * len(y)
        return stats

    def summarise(self, sums: dict, n: int) -> dict:
        out = {k: v / n for k, v in sums.items() if not k.startswith("fired_")}
        layers = [k for k in out if k.startswith("additions_layer")]
        if layers:
            out["additions_per_inference"] = sum(out[k] for k in layers)
        return out

    def epoch_end(self, model, sums: dict, n: int) -> dict:
        """Re-draw the weights of hidden neurons that fired in too few training samples (they get no gradient)."""
        info = {}
        layers = [m for m in model.layers if isinstance(m, SpikeOnceLinear)]
        for k, layer in enumerate(layers[:-1]):
            rate = sums[f"fired_{k}"] / n
            dead = torch.nonzero(rate < self.cfg.learning.dead_neuron_threshold).flatten()
            layer.reset_parameters(dead)
            info[f"reinit_layer{k}"] = len(dead)
        return info

    def describe(self, model) -> dict:
        return {"input_shape": list(self.input_shape), "layers": self.cfg.model.layers,
                "parameters": sum(p.numel() for p in model.parameters()),
                "metric_note": "test_accuracy is strict: ties and all-silent outputs count as errors; "
                               "lenient_accuracy counts them as correct, as the released SSTDP evaluation did"}
