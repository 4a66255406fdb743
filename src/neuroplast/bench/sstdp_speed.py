"""SSTDP speed: event-driven path vs the time-stepped reference, in one run on one machine.

Network 784-400-10, t_max 255, batch 64 (the released MNIST setup). The reference path is the time-stepped
forward (one dense matmul per step) with the plain backward that materialises the pair tensors; ours is the
event-driven forward with the compiled backward. A float MLP training step of the same shape is the practical
floor. Inputs are real MNIST test images when the data folder is present, else random latency codes.
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

import torch

from neuroplast.bench.common import machine, median_time
from neuroplast.errors import NeuroplastError
from neuroplast.learning.sstdp import IFSpec, time_loss
from neuroplast.models.sstdp import SSTDPNet
from neuroplast.train.checkpoint import checkpoint_config, load_checkpoint, result_state


def _inputs(batch: int, t_max: int):
    from neuroplast.data.images import encode_latency

    try:
        from neuroplast.data.vision import load_mnist

        images, labels = load_mnist(split="test")
        x = torch.as_tensor(images[:batch], dtype=torch.float32).reshape(batch, -1) / 255.0
        return encode_latency(x, t_max), torch.as_tensor(labels[:batch]).long(), "mnist test images"
    except Exception:
        g = torch.Generator().manual_seed(0)
        x = (torch.rand(batch, 784, generator=g) > 0.8).float() * torch.rand(batch, 784, generator=g)
        return encode_latency(x, t_max), torch.randint(0, 10, (batch,), generator=g), "random sparse images"


def checkpoint_weights(path) -> tuple[dict, int, object]:
    """``(state, H, config)`` of a trained 784-H-10 linear SSTDP checkpoint; any other network is refused in one
    line, naming the shape it has, because the benchmark's network and inputs are MNIST's."""
    ckpt = load_checkpoint(path)
    state = result_state(ckpt)
    shapes = {k: tuple(v.shape) for k, v in state.items() if torch.is_tensor(v)}
    w0, w1 = shapes.get("layers.0.weight"), shapes.get("layers.1.weight")
    if (set(shapes) == {"layers.0.weight", "layers.1.weight"} and len(w0) == 2 and w0[1] == 784
            and w1 == (10, w0[0])):
        return state, w0[0], checkpoint_config(ckpt, path)
    chain = [shapes.get(f"layers.{i}.weight") for i in range(len(shapes))]
    if all(s is not None and len(s) == 2 for s in chain) and all(a[0] == b[1] for a, b in itertools.pairwise(chain)):
        has = "a " + "-".join(str(n) for n in [chain[0][1]] + [s[0] for s in chain]) + " network"
    else:
        has = "weights " + ", ".join(f"{k} {list(v)}" for k, v in shapes.items())
    raise NeuroplastError(f"checkpoint {str(path)!r} holds {has}; `neuroplast bench sstdp` needs a 784-H-10 linear "
                          "network (an MNIST-shaped SSTDP run such as results/sstdp-mnist), or no --checkpoint")


def run(batch=64, t_max=None, hidden=None, repeats=7, checkpoint=None, out="benchmarks/results/sstdp-speed.json"):
    """Time both paths. With a checkpoint the network is the trained one (its H, thresholds, t_max and window);
    without, 784-400-10 at t_max 255 (``hidden`` / ``t_max`` change that) with the released initial weights."""
    torch.manual_seed(0)
    state, thetas, window = None, (100.0, 100.0), None
    if checkpoint:
        state, h, cfg = checkpoint_weights(checkpoint)
        if hidden is not None and hidden != h:
            raise NeuroplastError(f"--hidden {hidden} contradicts checkpoint {str(checkpoint)!r}, which is "
                                  f"784-{h}-10; leave --hidden out to take it from the checkpoint")
        if t_max is not None and t_max != cfg.model.t_max:
            raise NeuroplastError(f"--t-max {t_max} contradicts checkpoint {str(checkpoint)!r}, trained at t_max "
                                  f"{cfg.model.t_max}; leave --t-max out to take it from the checkpoint")
        hidden, t_max, window = h, cfg.model.t_max, cfg.model.window
        thetas = tuple(float(item.get("theta", cfg.model.theta)) for item in cfg.model.layers)
    hidden, t_max = hidden or 400, t_max or 255
    layers = [{"type": "linear", "out": hidden, "theta": thetas[0], "init": [0, 5]},
              {"type": "linear", "out": 10, "theta": thetas[1], "init": [0, 48]}]
    spec = IFSpec(theta=thetas[0], t_max=t_max, window=window)
    ours = SSTDPNet((784,), layers, spec)
    if state is not None:
        ours.load_state_dict(state)
    ref = SSTDPNet((784,), layers, replace(spec, backend="reference"))
    ref.load_state_dict(ours.state_dict())
    t_in, labels, source = _inputs(batch, t_max)

    with torch.no_grad():
        same = torch.equal(ours(t_in), ref(t_in))

    def forward(net):
        with torch.no_grad():
            net(t_in)

    def step(net):
        opt = torch.optim.SGD(net.parameters(), lr=1e-9)
        loss = time_loss(net(t_in), labels, t_max)
        opt.zero_grad()
        loss.backward()
        opt.step()

    mlp = torch.nn.Sequential(torch.nn.Linear(784, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 10))
    mlp_opt = torch.optim.SGD(mlp.parameters(), lr=1e-3)
    x_float = 1.0 - t_in / t_max

    def mlp_step():
        loss = torch.nn.functional.cross_entropy(mlp(x_float), labels)
        mlp_opt.zero_grad()
        loss.backward()
        mlp_opt.step()

    fwd_ref = median_time(lambda: forward(ref), repeats=max(3, repeats // 2), warmup=1)
    fwd_ours = median_time(lambda: forward(ours), repeats=repeats)
    step_ref = median_time(lambda: step(ref), repeats=max(3, repeats // 2), warmup=1)
    step_ours = median_time(lambda: step(ours), repeats=repeats)
    step_mlp = median_time(mlp_step, repeats=repeats)
    big = torch.cat([t_in] * 16)
    fwd_big = median_time(lambda: forward_big(ours, big), repeats=3)
    result = {
        "forward_speedup": fwd_ref / fwd_ours,
        "train_step_speedup": step_ref / step_ours,
        "identical_output_times": same,
        "seconds": {"forward_reference": fwd_ref, "forward_event_driven": fwd_ours,
                    "train_step_reference": step_ref, "train_step_event_driven": step_ours,
                    "train_step_float_mlp": step_mlp},
        "train_step_vs_float_mlp": step_ours / step_mlp,
        "inference_samples_per_second": {"batch_%d" % batch: batch / fwd_ours, "batch_%d" % len(big): len(big) / fwd_big},
        "setup": {"network": f"784-{hidden}-10", "t_max": t_max, "window": spec.steps, "theta": list(thetas),
                  "batch": batch, "inputs": source,
                  "weights": checkpoint or "initial U[0,5) / U[0,48)",
                  "reference": "time-stepped forward (dense matmul per step) + materialised pair-tensor backward",
                  "ours": "event-driven forward + compiled SSTDP backward (numba)", "repeats": repeats,
                  "statistic": "median after warm-up"},
        "machine": machine(),
        "command": "neuroplast bench sstdp",
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=2) + "\n")
    return result


def forward_big(net, t_in):
    with torch.no_grad():
        net(t_in)


def _at_least(low: int):
    """An argparse type for an integer >= ``low``: a zero batch or zero repeats would only fail deep in the timing."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def main(argv=None):
    p = argparse.ArgumentParser(prog="neuroplast bench sstdp", description=__doc__)
    p.add_argument("--batch", type=_at_least(1), default=64)
    p.add_argument("--t-max", type=_at_least(2), help="latency range (default: the checkpoint's, else 255)")
    p.add_argument("--hidden", type=_at_least(1), help="hidden neurons H (default: the checkpoint's, else 400)")
    p.add_argument("--repeats", type=_at_least(1), default=7)
    p.add_argument("--checkpoint", help="take weights from a trained SSTDP 784-H-10 checkpoint")
    p.add_argument("--out", default="benchmarks/results/sstdp-speed.json")
    a = p.parse_args(argv)
    res = run(a.batch, a.t_max, a.hidden, a.repeats, a.checkpoint, a.out)
    print(json.dumps({k: res[k] for k in ("forward_speedup", "train_step_speedup", "identical_output_times")}))
