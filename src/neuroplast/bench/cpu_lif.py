"""CPU LIF training speed, side by side: neuroplast vs snnTorch, SpikingJelly and Norse, plus the GEMM-only limit.

Cases (all CPU, forward + backward, loss ``output.sum()``):

* ``layer``: the Open Neuromorphic benchmark layer, ``Linear(n, n)`` + LIF, batch 16, 500 steps.
* ``selfloop``: the same with a per-neuron self-loop (spike fed back with one step delay) and learnable
  per-neuron tau and threshold, each library as close as it allows (recorded per result).
* ``scsr``: the default ScSr network of the speech issue (``scsr-bip``: 78-256-256-26, self-loops, skip
  input -> hidden 2, BIP, 700 steps, batch 32). No peer ships this network; it is timed against neuroplast's
  autograd time loop and its own GEMMs.
* ``gemm``: the same matrix multiplies alone (forward + weight-gradient GEMMs, no neuron): the limit of any
  library that multiplies densely.

Equal work: same sizes, weights, inputs and thread count; the feedforward projection of all steps is one
``Linear`` call for every peer (the fastest way each can be driven) and one
:func:`~neuroplast.functional.projection.project` call for neuroplast, which adds one weight row per input spike
(same sums, to rounding); ``neuroplast-dense`` is the same step with dense GEMMs, to show what the event path
adds. Hard reset to 0, threshold 1, ``alpha = 1 - 1/tau_mem`` with tau_mem 20; the surrogate is the fast sigmoid
/ SuperSpike where offered.

Method: every (library, case) runs in a fresh Python process with the thread count fixed by
``torch.set_num_threads`` and the OMP/MKL/NUMBA environment; ``warmup`` untimed iterations, then the median of
``repeats`` timed ones, forward (graph construction included) and backward timed separately. Each timed step
alternates with the GEMM-only step in the same process, which gives a load-robust ratio on a shared machine.
Peak memory is what the last warm-up step adds to the resident set at its peak, measured in a window where
every large block is mapped on its own (:func:`neuroplast.allocator.step_peak_window`), so it covers
activations, saved tensors and gradients of one training step, not the imports, compiled code, the model or
what the heap kept from earlier steps.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from neuroplast.allocator import keep_freed_memory, step_peak_window

LIBRARIES = ("neuroplast", "neuroplast-dense", "snntorch", "spikingjelly", "norse", "norse-compile", "gemm")
# Not peers: our own variants and the limit.
OURS = ("neuroplast", "neuroplast-dense", "neuroplast-loop", "gemm")
TAU_MEM = 20.0
TAU_SYN = 5.0
SEED = 0
DEFAULT_OUT = "benchmarks/results/cpu-lif.json"


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "numba", "neuroplast", "snntorch", "spikingjelly", "norse"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _inputs(case: dict):
    """Input spikes (rate 0.2) and a Linear layer scaled so the LIF layer fires at a moderate rate."""
    import torch

    g = torch.Generator().manual_seed(SEED)
    steps, batch, n = case["steps"], case["batch"], case["n"]
    x = (torch.rand(steps, batch, n, generator=g) < 0.2).float()
    fc = torch.nn.Linear(n, n)
    with torch.no_grad():
        fc.weight.copy_(torch.randn(n, n, generator=g) * (2.0 / n**0.5))
        fc.bias.copy_(torch.full((n,), 0.05))
    w_self = (torch.rand(n, generator=g) * 2 - 1) * 0.5
    return x, fc, w_self


def _build_layer(library: str, case: dict):
    """A callable ``x -> output spikes (T, B, n)`` and a note on deviations from the common neuron model."""
    import torch

    x, fc, w_self = _inputs(case)
    n = case["n"]
    alpha = 1.0 - 1.0 / TAU_MEM
    selfloop = case["kind"] == "selfloop"
    if library == "gemm":
        return x, fc, (lambda inp: fc(inp)), "Linear alone (forward + weight-gradient GEMMs), no neuron"
    if library in ("neuroplast", "neuroplast-dense"):
        from neuroplast.functional.lif import LIFOptions
        from neuroplast.functional.projection import project
        from neuroplast.neurons import LIF

        lif = LIF(n, tau_mem=TAU_MEM, tau_syn=TAU_SYN, threshold=1.0, train_tau_mem=selfloop,
                  train_threshold=selfloop, options=LIFOptions(feedback="spike"))
        w = torch.nn.Parameter(w_self.clone()) if selfloop else None
        mods = torch.nn.ModuleList([fc, lif])
        if w is not None:
            mods.register_parameter("w_self", w)

        events = None if library == "neuroplast" else False  # None: the default, spikes take the event path

        def run(inp):
            current = project([inp], [fc.weight], fc.bias, events=events)
            return lif(current, self_weight=w, trace=False, consume_current=True)[0]

        if events is None:
            projection = ("the Linear's weights through neuroplast's projection, event path: each input spike adds "
                          "one weight row, forward and weight gradient (project's default for spike inputs)")
        else:
            projection = "the Linear's weights through neuroplast's projection as dense GEMMs (project(events=False))"
        return x, mods, run, ("LIF with trace (methods.md 1.2), backend auto (numba), BPTT, fast sigmoid; the "
                              "layer's output trace is not stored (trace=False): like the peers, it returns spikes; "
                              f"{projection}; its output feeds only the LIF, whose backward overwrites it with its "
                              "gradient (consume_current=True)")
    if library == "snntorch":
        import snntorch as snn
        from snntorch import surrogate

        grad = surrogate.fast_sigmoid(slope=2.0)
        if selfloop:
            neuron = snn.RLeaky(beta=torch.full((n,), alpha), V=w_self.clone(), all_to_all=False,
                                threshold=torch.ones(n), spike_grad=grad, learn_beta=True, learn_threshold=True,
                                learn_recurrent=True, reset_mechanism="zero")
        else:
            neuron = snn.Leaky(beta=alpha, threshold=1.0, spike_grad=grad, reset_mechanism="zero")
        mods = torch.nn.ModuleList([fc, neuron])

        def run(inp):
            cur = fc(inp)
            out = []
            if selfloop:
                spk, mem = neuron.init_rleaky()
                for c in cur.unbind(0):
                    spk, mem = neuron(c, spk, mem)
                    out.append(spk)
            else:
                mem = neuron.init_leaky()
                for c in cur.unbind(0):
                    spk, mem = neuron(c, mem)
                    out.append(spk)
            return torch.stack(out)

        note = "Leaky(reset zero, fast_sigmoid)" if not selfloop else (
            "RLeaky(all_to_all=False: per-neuron V on the spike, learn_beta/threshold/recurrent, per-neuron beta and "
            "threshold, reset zero)")
        return x, mods, run, note
    if library == "spikingjelly":
        from spikingjelly.activation_based import functional, layer, neuron, surrogate

        sg = surrogate.SuperSpike()
        if selfloop:
            node = neuron.ParametricLIFNode(init_tau=TAU_MEM, decay_input=False, v_threshold=1.0, v_reset=0.0,
                                            surrogate_function=sg, step_mode="s")
            w = torch.nn.Parameter(w_self.clone())
            rec = layer.ElementWiseRecurrentContainer(node, element_wise_function=lambda y, c: c + w * y,
                                                      step_mode="m")
            mods = torch.nn.ModuleList([fc, rec])
            mods.register_parameter("w_self", w)

            def run(inp):
                functional.reset_net(rec)
                return rec(fc(inp))

            note = ("ElementWiseRecurrentContainer(ParametricLIFNode): one learnable tau per layer (no per-neuron "
                    "tau), fixed threshold (not learnable), per-neuron self weight; torch backend, step by step")
            return x, mods, run, note
        node = neuron.LIFNode(tau=TAU_MEM, decay_input=False, v_threshold=1.0, v_reset=0.0,
                              surrogate_function=sg, step_mode="m")
        mods = torch.nn.ModuleList([fc, node])

        def run(inp):
            functional.reset_net(node)
            return node(fc(inp))

        return x, mods, run, "LIFNode multi-step (lif_multi_step), decay_input=False, hard reset 0, SuperSpike"
    if library in ("norse", "norse-compile"):
        import norse.torch as nt

        dt = 1e-3
        compiled = library == "norse-compile"
        if selfloop:
            tau_inv = torch.nn.Parameter(torch.full((n,), 1.0 / (TAU_MEM * dt)))
            v_th = torch.nn.Parameter(torch.ones(n))
            w = torch.nn.Parameter(w_self.clone())
            mods = torch.nn.Module()
            mods.fc, mods.tau_inv, mods.v_th, mods.w_self = fc, tau_inv, v_th, w

            def cell_step(c, z, state):
                cell = nt.LIFCell(nt.LIFParameters(tau_mem_inv=tau_inv, v_th=v_th, v_reset=torch.tensor(0.0)))
                return cell(c + w * z, state)

            step = torch.compile(cell_step) if compiled else cell_step

            def run(inp):
                cur = fc(inp)
                z, state, out = torch.zeros_like(cur[0]), None, []
                for c in cur.unbind(0):
                    z, state = step(c, z, state)
                    out.append(z)
                return torch.stack(out)

            note = "LIFCell step by step, learnable per-neuron tau_mem_inv and v_th, self weight on z[t-1]"
        elif compiled:
            cell = nt.LIFCell(nt.LIFParameters(tau_mem_inv=torch.tensor(1.0 / (TAU_MEM * dt)),
                                               v_reset=torch.tensor(0.0)))
            step = torch.compile(cell)
            mods = torch.nn.ModuleList([fc, cell])

            def run(inp):
                cur = fc(inp)
                state, out = None, []
                for c in cur.unbind(0):
                    z, state = step(c, state)
                    out.append(z)
                return torch.stack(out)

            note = "LIFCell (current-based, tau_syn 5 ms, dt 1 ms, SuperSpike), Python loop over time"
        else:
            neuron = nt.LIF(nt.LIFParameters(tau_mem_inv=torch.tensor(1.0 / (TAU_MEM * dt)),
                                             v_reset=torch.tensor(0.0)))
            mods = torch.nn.ModuleList([fc, neuron])

            def run(inp):
                return neuron(fc(inp))[0]

            note = "LIF (current-based, synaptic current with tau_syn 5 ms), dt 1 ms, SuperSpike"
        if compiled:
            note += ("; torch.compile (inductor) of the one-step cell: compiling the whole 500-step LIF module "
                     "did not finish within 6 minutes here")
        return x, mods, run, note
    raise ValueError(library)


def _build_scsr(library: str, case: dict):
    import torch

    from neuroplast.functional.lif import LIFOptions
    from neuroplast.models.scsr import ScSrSNN

    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    x = (torch.rand(case["steps"], case["batch"], 78, generator=g) < 0.08).float()
    if library == "neuroplast-loop":
        model = ScSrSNN.from_preset("scsr-bip", 78, 26, options=LIFOptions(implementation="loop"))
        return x, model, (lambda inp: model(inp)[0]), "same network, autograd through the plain time loop"
    model = ScSrSNN.from_preset("scsr-bip", 78, 26)
    if library == "neuroplast":
        return x, model, (lambda inp: model(inp)[0]), "scsr-bip, backend auto (numba)"
    if library == "gemm":
        from neuroplast.functional.lif import synaptic_trace

        with torch.no_grad():
            traces = [synaptic_trace(x, model.input_tau_syn)]
            for dst, layer in enumerate(model.layers, start=1):
                traces.append(layer(traces[-1], [traces[src] for src in model.skip_sources[dst]])[1])
        leaves = [traces[0]] + [t.clone().requires_grad_() for t in traces[1:-1]]

        def run(inp):
            outs = []
            for dst, layer in enumerate(model.layers, start=1):
                outs.append(layer.input_current(leaves[dst - 1], [leaves[src] for src in model.skip_sources[dst]]))
            return torch.stack([o.sum() for o in outs])

        return x, model, run, "the network's feedforward and skip projections alone, on real traces"
    raise ValueError(library)


def _gemm_reference(case: dict):
    """The case's GEMM-only step on its own copy of the weights, timed alternately with the library's step."""
    import torch

    if case["kind"] == "scsr":
        x, module, run, _ = _build_scsr("gemm", case)
    else:
        x, module, run, _ = _build_layer("gemm", case)
    params = [p for p in module.parameters() if p.requires_grad]

    def step():
        for p in params:
            p.grad = None
        run(x).sum().backward()

    torch.manual_seed(SEED)
    return step


def worker(spec: dict) -> dict:
    """Time one (library, case) in this process.

    Warm-up steps run alone (the peak-memory window). The timed steps alternate with the case's GEMM-only step
    in the same process, so load from other processes hits both alike; ``ratio_to_gemm_same_process`` is the
    load-robust figure, ``total_s`` the raw one.
    """
    import torch

    torch.set_num_threads(spec["threads"])
    torch.manual_seed(SEED)
    case = spec["case"]
    build = _build_scsr if case["kind"] == "scsr" else _build_layer
    x, module, run, note = build(spec["library"], case)
    params = [p for p in module.parameters() if p.requires_grad]
    gemm_step = _gemm_reference(case) if spec.get("interleave_gemm", True) else None
    fwd, bwd, gemm, rate = [], [], [], None
    # A two-step, one-sample pass first: lazy imports, compiled kernels and thread pools then sit below the baseline.
    run(x[:2, :1]).sum().backward()
    for p in params:
        p.grad = None
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = base
    window: dict = {"mib": None}
    # The last warm-up step (compilation for the full shape done by then) is the memory window; one more untimed
    # step follows it, since the window hands the heap's free pages back and the next step faults them in.
    warmup = spec["warmup"] + (1 if spec["warmup"] >= 1 else 0)
    for i in range(warmup + spec["repeats"]):
        if i == warmup:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for p in params:
            p.grad = None
        in_window = i == spec["warmup"] - 1
        with step_peak_window() if in_window else contextlib.nullcontext() as got:
            t0 = time.perf_counter()
            out = run(x)
            loss = out.sum()
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            if rate is None and spec["library"] != "gemm":
                rate = float(out.detach().float().mean())
            del out, loss
        if in_window:
            window = got
        if i >= warmup:
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
            if gemm_step is not None:
                t3 = time.perf_counter()
                gemm_step()
                gemm.append(time.perf_counter() - t3)
    total = [a + b for a, b in zip(fwd, bwd)]
    out = {
        "library": spec["library"], "case": case, "note": note, "threads": torch.get_num_threads(),
        "forward_s": statistics.median(fwd), "backward_s": statistics.median(bwd),
        "total_s": statistics.median(total), "total_min_s": min(total), "total_samples_s": total,
        "peak_memory_mib": window["mib"] if window["mib"] is not None else (peak - base) / 1024.0,
        "peak_memory_method": "step window" if window["mib"] is not None else "ru_maxrss growth",
        "peak_rss_growth_mib": (peak - base) / 1024.0, "output_rate": rate,
    }
    if gemm:
        out["gemm_same_process_s"] = statistics.median(gemm)
        out["ratio_to_gemm_same_process"] = statistics.median([a / b for a, b in zip(total, gemm)])
    return out


def _in_process(spec: dict) -> dict:
    """``worker`` in this process, leaving torch's thread count as it was."""
    import torch

    threads = torch.get_num_threads()
    try:
        return worker(spec)
    finally:
        torch.set_num_threads(threads)


def _run_subprocess(spec: dict, timeout: float) -> dict:
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[key] = str(spec["threads"])
    cmd = [sys.executable, "-m", "neuroplast.bench.cpu_lif", "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"library": spec["library"], "case": spec["case"], "skipped": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"library": spec["library"], "case": spec["case"], "skipped": f"failed: {tail[:300]}"}
    return json.loads(lines[-1])


def _available(library: str) -> str | None:
    """None if the library imports here, else the reason to skip it."""
    import importlib

    module = {"snntorch": "snntorch", "spikingjelly": "spikingjelly.activation_based", "norse": "norse.torch",
              "norse-compile": "norse.torch"}.get(library)
    if module is None:
        return None
    try:
        importlib.import_module(module)
    except Exception as exc:  # any import failure: the library is absent or broken here, skip it
        return f"not importable: {type(exc).__name__}: {str(exc)[:200]}"
    return None


def _cases(args) -> list[dict]:
    cases = []
    for kind in ("layer", "selfloop"):
        for n in args.sizes:
            cases.append({"kind": kind, "n": n, "batch": args.batch, "steps": args.steps})
    if not args.no_scsr:
        cases.append({"kind": "scsr", "n": 256, "batch": args.scsr_batch, "steps": args.scsr_steps})
    return cases


def _key(case: dict) -> str:
    return f"{case['kind']}-n{case['n']}" if case["kind"] != "scsr" else "scsr"


def _summary(results: list[dict], sizes: list[int]) -> dict:
    table: dict[str, dict] = {}
    for r in results:
        table.setdefault(_key(r["case"]), {})[r["library"]] = r
    out: dict = {}

    def fastest_peer(key):
        peers = [(r["total_s"], lib) for lib, r in table.get(key, {}).items()
                 if lib not in OURS and "total_s" in r]
        return min(peers) if peers else None

    def ours(key, lib="neuroplast"):
        return table.get(key, {}).get(lib, {}).get("total_s")

    mid = 1024 if 1024 in sizes else sizes[len(sizes) // 2]
    small = min(sizes)
    per_case = {}
    for key in table:
        fp, us = fastest_peer(key), ours(key)
        gemm = table[key].get("gemm", {}).get("total_s")
        mem_peers = [r["peak_memory_mib"] for lib, r in table[key].items()
                     if lib not in OURS and "peak_memory_mib" in r]
        per_case[key] = {
            "fastest_peer": fp[1] if fp else None,
            "speedup_vs_fastest_peer": (fp[0] / us) if fp and us else None,
            "ratio_to_gemm_limit": (us / gemm) if us and gemm else None,
            "peak_memory_mib": table[key].get("neuroplast", {}).get("peak_memory_mib"),
            "lowest_peer_peak_memory_mib": min(mem_peers) if mem_peers else None,
        }
        dense = ours(key, "neuroplast-dense")
        if dense:
            per_case[key]["speedup_vs_fastest_peer_dense_projection"] = fp[0] / dense if fp else None
            per_case[key]["ratio_to_gemm_limit_dense_projection"] = dense / gemm if gemm else None
        ratios = {lib: r["ratio_to_gemm_same_process"] for lib, r in table[key].items()
                  if "ratio_to_gemm_same_process" in r}
        peer_ratios = [(v, lib) for lib, v in ratios.items() if lib not in OURS]
        if peer_ratios and "neuroplast" in ratios:
            best = min(peer_ratios)
            per_case[key]["fastest_peer_load_corrected"] = best[1]
            per_case[key]["speedup_vs_fastest_peer_load_corrected"] = best[0] / ratios["neuroplast"]
        if "neuroplast" in ratios:
            per_case[key]["ratio_to_gemm_same_process"] = ratios["neuroplast"]
        loop = table[key].get("neuroplast-loop", {}).get("total_s")
        if loop and us:
            per_case[key]["speedup_vs_autograd_loop"] = loop / us
    # Top-level figure -> (case, per-case field); each also as "_dense_projection", the speedups "_load_corrected".
    headline = {
        "speedup_vs_fastest_peer": (f"layer-n{mid}", "speedup_vs_fastest_peer"),
        "speedup_vs_fastest_peer_n256": (f"layer-n{small}", "speedup_vs_fastest_peer"),
        "speedup_vs_fastest_peer_scsr": (f"selfloop-n{mid}", "speedup_vs_fastest_peer"),
        "ratio_to_gemm_limit": (f"layer-n{mid}", "ratio_to_gemm_limit"),
    }
    for name, (key, field) in headline.items():
        out[name] = per_case.get(key, {}).get(field)
    for name, (key, field) in headline.items():
        if field == "speedup_vs_fastest_peer":
            out[name + "_load_corrected"] = per_case.get(key, {}).get(field + "_load_corrected")
    for name, (key, field) in headline.items():
        out[name + "_dense_projection"] = per_case.get(key, {}).get(field + "_dense_projection")
    out["ratio_to_gemm_limit_same_process"] = per_case.get(f"layer-n{mid}", {}).get("ratio_to_gemm_same_process")
    speedups = [c["speedup_vs_fastest_peer"] for c in per_case.values() if c["speedup_vs_fastest_peer"]]
    out["min_speedup_vs_fastest_peer_any_case"] = min(speedups) if speedups else None
    mems = [(c["peak_memory_mib"], c["lowest_peer_peak_memory_mib"]) for c in per_case.values()
            if c["peak_memory_mib"] is not None and c["lowest_peer_peak_memory_mib"] is not None]
    out["peak_memory_at_most_lowest_peer_every_case"] = all(a <= b for a, b in mems) if mems else None
    out["per_case"] = per_case
    out["reference_sizes"] = {"mid": mid, "small": small}
    return out


def _plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = []
    for r in results:
        k = _key(r["case"])
        if k not in keys:
            keys.append(k)
    libs = [lib for lib in (*LIBRARIES, "neuroplast-loop") if any(r["library"] == lib for r in results)]
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(keys)), 4))
    width = 0.8 / max(1, len(libs))
    for i, lib in enumerate(libs):
        vals = []
        for k in keys:
            r = next((r for r in results if r["library"] == lib and _key(r["case"]) == k), None)
            vals.append(r["total_s"] if r and "total_s" in r else float("nan"))
        ax.bar([j + i * width for j in range(len(keys))], vals, width, label=lib)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(keys))])
    ax.set_xticklabels(keys, rotation=20)
    ax.set_yscale("log")
    ax.set_ylabel("forward + backward, s (median, log scale)")
    ax.set_title("CPU LIF training step")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args) -> dict:
    libs = [lib for lib in args.libraries]
    cases = _cases(args)
    results = []
    skip_reason = {lib: _available(lib) for lib in libs}
    for case in cases:
        case_libs = ["neuroplast", "neuroplast-loop", "gemm"] if case["kind"] == "scsr" else libs
        for lib in case_libs:
            if skip_reason.get(lib):
                results.append({"library": lib, "case": case, "skipped": skip_reason[lib]})
                continue
            spec = {"library": lib, "case": case, "threads": args.threads, "repeats": args.repeats,
                    "warmup": args.warmup}
            res = _in_process(spec) if args.in_process else _run_subprocess(spec, args.timeout)
            results.append(res)
            shown = f"{res['total_s']:.4f} s" if "total_s" in res else res.get("skipped")
            print(f"{_key(case):>16} {lib:>15}: {shown}", flush=True)
        if case["kind"] == "scsr":
            for lib in libs:
                if lib not in OURS:
                    results.append({"library": lib, "case": case,
                                    "skipped": "no ScSr network (skip + self-loop + BIP) in this library"})
    from neuroplast.bench.common import machine

    summary = _summary([r for r in results if "total_s" in r], sorted(args.sizes))
    out = {
        "benchmark": "cpu-lif",
        **{k: summary[k] for k in ("speedup_vs_fastest_peer", "speedup_vs_fastest_peer_n256",
                                   "speedup_vs_fastest_peer_scsr", "ratio_to_gemm_limit")},
        "summary": summary,
        "config": {"sizes": args.sizes, "batch": args.batch, "steps": args.steps, "threads": args.threads,
                   "repeats": args.repeats, "warmup": args.warmup, "tau_mem": TAU_MEM, "threshold": 1.0,
                   "reset": "hard, to 0", "loss": "output.sum()", "input": "Bernoulli(0.2) spikes, (T, B, n)",
                   "projection": "neuroplast: event path (one weight row added per input spike, forward and "
                                 "weight gradient); neuroplast-dense: the same step with dense GEMMs; peers and "
                                 "gemm: dense torch Linear",
                   "scsr": {"preset": "scsr-bip", "sizes": [78, 256, 256, 26], "steps": args.scsr_steps,
                            "batch": args.scsr_batch}},
        "method": {
            "timing": "fresh process per (library, case); warm-up iterations, then median of repeats; forward "
                      "(incl. graph construction) and backward timed separately; total = median of per-run sums",
            "peak_memory": "resident memory one training step adds at its peak (MiB): activations, saved state "
                           "and gradients. Measured over the last warm-up step (compilation for the full shape "
                           "done) with neuroplast.allocator.step_peak_window: every block of 1 MiB or more gets "
                           "its own mapping for that step and the kernel's high-water mark is reset at its start, "
                           "so the figure follows live tensors, not what the heap kept from earlier steps "
                           "(peak_memory_method). peak_rss_growth_mib: the earlier measure, growth of ru_maxrss "
                           "over all warm-up steps from a baseline after a 2-step, 1-sample priming pass",
            "allocator": "glibc keeps freed memory mapped in every library's process alike "
                         "(neuroplast.allocator.keep_freed_memory; the neuroplast CLI's default)",
            "gemm_limit": "Linear forward + backward alone (weight gradient; the input needs none), same sizes; "
                          "also timed in every library's process, alternating step by step with the library "
                          "(ratio_to_gemm_same_process), so that load from other processes cancels out",
            "load_corrected": "speedup_*_load_corrected = (fastest peer's ratio to its in-process GEMM time) / "
                              "(neuroplast's ratio to its in-process GEMM time); the raw figures compare medians "
                              "taken in different processes, minutes apart",
            "threads": "torch.set_num_threads and OMP/MKL/NUMBA_NUM_THREADS set to the same value for all",
        },
        "versions": _versions(),
        "machine": {**machine(), "threads_used": args.threads, "load_average_1min": os.getloadavg()[0],
                    "lscpu": _lscpu()},
        "command": "neuroplast bench cpu-lif " + " ".join(args.argv),
        "results": results,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    if not args.no_plot:
        _plot([r for r in results if "total_s" in r], path.with_suffix(".png"))
    return out


def _lscpu() -> dict:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    keep = ("Architecture", "Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "L1d cache",
            "L2 cache", "L3 cache", "Flags")
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in keep:
            value = value.strip()
            if key.strip() == "Flags":
                value = " ".join(f for f in value.split() if f.startswith(("avx", "fma")))
            out[key.strip()] = value
    return out


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="neuroplast bench cpu-lif", description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for every library")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 2048])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--scsr-steps", type=int, default=700)
    p.add_argument("--scsr-batch", type=int, default=32)
    p.add_argument("--no-scsr", action="store_true", help="skip the ScSr network case")
    p.add_argument("--libraries", nargs="+", default=list(LIBRARIES), choices=LIBRARIES)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per (library, case) process")
    p.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat: a smoke test of the harness")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--in-process", action="store_true",
                   help="run every case in this process (fast smoke tests; peak memory and isolation suffer)")
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        keep_freed_memory()
        print(json.dumps(worker(json.loads(args.worker))), flush=True)
        return None
    if args.quick:
        args.sizes, args.batch, args.steps = [8], 2, 20
        args.scsr_steps, args.scsr_batch, args.repeats, args.warmup = 20, 2, 1, 1
    args.argv = argv
    out = run(args)
    print(json.dumps({k: out[k] for k in ("speedup_vs_fastest_peer", "speedup_vs_fastest_peer_n256",
                                          "speedup_vs_fastest_peer_scsr", "ratio_to_gemm_limit")}))
    return out


if __name__ == "__main__":
    main()
