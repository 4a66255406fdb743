"""ScSr-SNN training step: fused LIF scans (hand-written backward) vs autograd through the plain time loop.

One run, one machine, same weights and inputs: the default ScSr network with BIP (``scsr-bip``: self-loops on
both hidden layers, skip input -> hidden 2, all intrinsic parameters trained), spike-count loss, forward +
backward. Both paths compute all steps' feedforward and skip projections as one matmul per source; they
differ only in the LIF scan: the fast path runs ``LIFOptions.backend`` (default ``numba``: compiled CPU
kernels), the baseline ``implementation="loop"``. The torch fused scan (``backend="torch"``) is timed too, for
reference. The forward outputs must be identical and the gradients equal up to float32 rounding.

Also reported: the projections alone (the matmuls both paths share, forward + backward), which bound the
speedup; the scan alone (one hidden layer, forward + backward); and, for scale, a step-major loop that reads
the equations literally (one time loop, every layer's projections inside it, autograd), timing only.

    python benchmarks/scsr_step.py [--steps 700 --batch 32 --hidden 256 256 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from neuroplast.allocator import keep_freed_memory
from neuroplast.bench.common import machine
from neuroplast.functional.lif import LIFOptions, lif_scan, lif_scan_reference, synaptic_trace
from neuroplast.functional.surrogate import spike
from neuroplast.learning.rate_losses import spike_count_loss
from neuroplast.models.scsr import DEFAULT_HIDDEN, ScSrSNN


def _step(model, x, labels):
    model.zero_grad(set_to_none=True)
    out, _ = model(x)
    spike_count_loss(out, labels).backward()
    return out.detach()


def _grads(model) -> dict:
    return {n: (torch.zeros_like(p) if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()}


def _timed(fn) -> float:
    tic = time.perf_counter()
    fn()
    return time.perf_counter() - tic


def _compare(g_fast: dict, g_loop: dict, rtol: float) -> dict:
    worst, biggest, ok = 0.0, 0.0, True
    for name, a in g_fast.items():
        a, b = a.double(), g_loop[name].double()
        scale = b.abs().max().item()
        err = (a - b).abs().max().item()
        rel = err / scale if scale > 0 else err
        worst, biggest = max(worst, rel), max(biggest, scale)
        ok = ok and bool(torch.isfinite(a).all() == torch.isfinite(b).all()) and rel <= rtol
    return {"allclose": ok, "max_rel_err": worst, "rtol": rtol, "max_abs_grad": biggest}


def _projection_step(model, x):
    """Forward + backward of the feedforward and skip matmuls alone, on the traces of a real forward pass."""
    with torch.no_grad():
        traces = [synaptic_trace(x, model.input_tau_syn)]
        for dst, layer in enumerate(model.layers, start=1):
            traces.append(layer(traces[-1], [traces[src] for src in model.skip_sources[dst]])[1])
    leaves = [traces[0]] + [t.clone().requires_grad_() for t in traces[1:-1]]
    grads = [torch.randn_like(t) for t in traces[1:]]

    def run():
        model.zero_grad(set_to_none=True)
        total = 0.0
        for dst, layer in enumerate(model.layers, start=1):
            current = layer.input_current(leaves[dst - 1], [leaves[src] for src in model.skip_sources[dst]])
            total = total + (current * grads[dst - 1]).sum()
        total.backward()

    return run


def _stepwise_step(model, x, labels):
    """The equations read literally: one time loop, every layer's projections inside it, autograd BPTT."""
    model.zero_grad(set_to_none=True)
    options = model.layers[0].neurons.options
    batch = x.shape[1]
    neurons = [(1 - 1 / l.neurons.tau_mem, 1 / l.neurons.tau_syn, l.neurons.threshold, l.neurons.gain)
               for l in model.layers]
    trace = [x.new_zeros(batch, n) for n in model.sizes]
    mem = [x.new_zeros(batch, n) for n in model.sizes]
    outputs = []
    for x_t in x.unbind(0):
        trace[0] = torch.lerp(trace[0], x_t, 1.0 / model.input_tau_syn)
        for dst, layer in enumerate(model.layers, start=1):
            alpha, inv, theta, gain = neurons[dst - 1]
            current = F.linear(trace[dst - 1], layer.weight)
            for src, w in zip(model.skip_sources[dst], layer.skip_weight):
                current = current + F.linear(trace[src], w)
            if layer.recurrence == "self":
                current = torch.addcmul(current, layer.self_weight, trace[dst])
            elif layer.recurrence != "none":
                current = current + F.linear(trace[dst], layer.effective_recurrent_weight())
            p = torch.addcmul(gain * current, alpha, mem[dst])
            s = spike(p - theta, options.surrogate)
            mem[dst] = p * (1.0 - s.detach())
            trace[dst] = torch.lerp(trace[dst], s, inv)
        outputs.append(s)
    out = torch.stack(outputs)
    spike_count_loss(out, labels).backward()
    return out.detach()


def _scan_only(steps, batch, size, repeats):
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(steps, batch, size, generator=g) * 0.3 + 0.05).requires_grad_()
    params = [torch.full((size,), v, requires_grad=True) for v in (64.0, 8.0, 1.0, 1.0)]
    w = (torch.rand(size, generator=g) * 2 - 1).requires_grad_()

    def run(fn):
        s, a = fn(x, *params, w)
        (s.sum() + a.sum()).backward()

    fused, loop = [], []
    run(lif_scan)
    for _ in range(repeats):
        fused.append(_timed(lambda: run(lif_scan)))
        loop.append(_timed(lambda: run(lif_scan_reference)))
    f, lo = statistics.median(fused), statistics.median(loop)
    return {"shape": [steps, batch, size], "self_loop": True, "fused_s": f, "loop_s": lo, "speedup": lo / f}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=700, help="time steps per sample (speech: 700)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--n-in", type=int, default=78, help="input channels (Lyon front end: 78)")
    ap.add_argument("--hidden", type=int, nargs="+", default=list(DEFAULT_HIDDEN))
    ap.add_argument("--n-out", type=int, default=26, help="classes (TI46-Alpha: 26)")
    ap.add_argument("--preset", default="scsr-bip")
    ap.add_argument("--input-rate", type=float, default=0.08, help="Bernoulli input spike probability per step")
    ap.add_argument("--truncation", type=int, default=0, help="LIFOptions.truncation (0 = full BPTT)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--stepwise-repeats", type=int, default=2, help="repeats of the slow step-major loop (0: skip)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--backend", default="numba", choices=["numba", "torch", "auto"], help="the fast path's kernel")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "scsr-step.json"))
    args = ap.parse_args(argv)

    kept = keep_freed_memory()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    fast = ScSrSNN.from_preset(args.preset, args.n_in, args.n_out, args.hidden,
                               options=LIFOptions(truncation=args.truncation, backend=args.backend))
    fused_torch = ScSrSNN.from_preset(args.preset, args.n_in, args.n_out, args.hidden,
                                      options=LIFOptions(truncation=args.truncation, backend="torch"))
    loop = ScSrSNN.from_preset(args.preset, args.n_in, args.n_out, args.hidden,
                               options=LIFOptions(truncation=args.truncation, implementation="loop"))
    loop.load_state_dict(fast.state_dict())
    fused_torch.load_state_dict(fast.state_dict())
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(args.steps, args.batch, args.n_in, generator=g) < args.input_rate).float()
    labels = torch.randint(0, args.n_out, (args.batch,), generator=g)

    out_fast, g_fast = _step(fast, x, labels), _grads(fast)
    out_loop, g_loop = _step(loop, x, labels), _grads(loop)
    out_torch, g_torch = _step(fused_torch, x, labels), _grads(fused_torch)
    projections = _projection_step(fast, x)
    projections()
    fused_t, loop_t, proj_t, torch_t = [], [], [], []
    for _ in range(args.repeats):
        fused_t.append(_timed(lambda: _step(fast, x, labels)))
        loop_t.append(_timed(lambda: _step(loop, x, labels)))
        proj_t.append(_timed(projections))
        torch_t.append(_timed(lambda: _step(fused_torch, x, labels)))
    fused_s, loop_s, proj_s, torch_s = (statistics.median(t) for t in (fused_t, loop_t, proj_t, torch_t))
    stepwise = None
    if args.stepwise_repeats and args.truncation == 0:
        out_step = _stepwise_step(fast, x, labels)
        times = [_timed(lambda: _stepwise_step(fast, x, labels)) for _ in range(args.stepwise_repeats)]
        stepwise = {
            "step_s": statistics.median(times),
            "speedup_of_fused": statistics.median(times) / fused_s,
            "output_spike_agreement": (out_step == out_fast).float().mean().item(),
        }
    result = {
        "benchmark": "scsr-step",
        "what": "forward + backward of one training step (spike-count loss), fused LIF scans vs autograd loop",
        "config": {
            "preset": args.preset, "steps": args.steps, "batch": args.batch, "n_in": args.n_in,
            "hidden": args.hidden, "n_out": args.n_out, "input_rate": args.input_rate,
            "truncation": args.truncation, "surrogate": "fast_sigmoid(0.5)", "grad_method": "bptt",
            "tau_mem": 64.0, "tau_syn": 8.0, "dtype": "float32", "backend": args.backend, "threads": args.threads,
            "repeats": args.repeats, "statistic": "median",
            "allocator": "glibc, freed memory kept (neuroplast.allocator.keep_freed_memory), both paths" if kept
            else "default",
        },
        "machine": {**machine(), "load_average_1min": os.getloadavg()[0]},
        "fused_step_s": fused_s,
        "loop_step_s": loop_s,
        "fused_samples_s": fused_t,
        "loop_samples_s": loop_t,
        "speedup_vs_autograd_loop": loop_s / fused_s,
        "torch_fused_step_s": torch_s,
        "speedup_of_torch_fused_vs_autograd_loop": loop_s / torch_s,
        "torch_fused_forward_identical": bool(torch.equal(out_torch, out_loop)),
        "torch_fused_gradients": _compare(g_torch, g_loop, rtol=1e-4),
        "projections_s": proj_s,
        "projection_share_of_fused_step": proj_s / fused_s,
        "speedup_excluding_projections": (loop_s - proj_s) / max(fused_s - proj_s, 1e-9),
        "speedup_bound_if_scan_were_free": loop_s / proj_s,
        "scan_only": _scan_only(args.steps, args.batch, args.hidden[0], args.repeats),
        "stepwise_loop": stepwise,
        "forward_identical": bool(torch.equal(out_fast, out_loop)),
        "gradients": _compare(g_fast, g_loop, rtol=1e-4),
        "output_rate": out_fast.mean().item(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    keys = ("fused_step_s", "loop_step_s", "speedup_vs_autograd_loop", "torch_fused_step_s", "projections_s",
            "speedup_excluding_projections", "forward_identical", "gradients", "scan_only", "stepwise_loop")
    print(json.dumps({k: result[k] for k in keys}, indent=2))
    return result


if __name__ == "__main__":
    main()
