"""The ScSr ablation on FSDD: every recurrent SNN type with equal neuron counts and the same training budget,
several seeds, two splits (the dataset's index split and one speaker-independent fold), plus a non-spiking GRU
on the same spike features as a reference row. Writes ``table.json`` and ``table.png``.

``neuroplast ablate CONFIG`` where CONFIG is a ScSr run config (the shared settings) with an ``ablation``
section: ``rows`` (presets), ``seeds``, ``splits``, ``workers``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
import yaml

from neuroplast.errors import NeuroplastError
from neuroplast.train.checkpoint import atomic_write_bytes

DEFAULT_ROWS = ["feedforward", "fc-rsnn", "sparse-rsnn", "sr", "scsr", "scsr-bip"]


def _run_snn(base: dict, preset: str, seed: int, split: str, out: Path) -> dict:
    from neuroplast.config import validate_config
    from neuroplast.train.trainer import train

    data = copy.deepcopy(base)
    data.update(name=f"{preset}-{split.replace(':', '_')}-s{seed}", seed=seed)
    data["model"]["preset"] = preset
    data["data"].setdefault("options", {})["split"] = split
    data["train"] = {**data.get("train", {}), "out_dir": str(out / data["name"]), "progress": False, "threads": 1}
    cfg = validate_config(data)
    ckpt = Path(cfg.train.out_dir) / "checkpoint.pt"
    resumable = ckpt.is_file() and _same_config(ckpt, cfg)
    metrics = _finished(cfg) if resumable or _same_saved_config(cfg) else None
    if metrics is None:
        metrics = train(cfg, resume_from=ckpt if resumable else None,
                        command=f"neuroplast ablate (row {preset}, seed {seed}, split {split})")
    rates = {k[5:]: v for k, v in metrics.items() if k.startswith("rate_")}
    synops = {k[7:]: v for k, v in metrics.items() if k.startswith("synops_")}
    return {"accuracy": metrics["test_accuracy"], "firing_rates": rates, "synaptic_operations": synops,
            "synaptic_operations_per_inference": metrics.get("synaptic_operations_per_inference"),
            "seconds": metrics["seconds"]}


def _same_config(ckpt_path: Path, cfg) -> bool:
    from neuroplast.train.checkpoint import load_checkpoint

    try:
        return load_checkpoint(ckpt_path).get("config") == cfg.model_dump(mode="json")
    except NeuroplastError:
        return False


def _same_saved_config(cfg) -> bool:
    """The run folder's ``config.yaml`` is this config: a finished run whose checkpoint was not kept (committed
    tables keep the runs' metrics, not their checkpoints) still counts as done."""
    from neuroplast.config import dump_config

    try:
        return (Path(cfg.train.out_dir) / "config.yaml").read_text() == dump_config(cfg)
    except OSError:
        return False


def _finished(cfg) -> dict | None:
    """The final metrics of a run of this config (its checkpoint or saved config already matched) that ended, else
    None: an interrupted ``ablate`` is rerun without redoing finished runs."""
    try:
        metrics = json.loads((Path(cfg.train.out_dir) / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    return metrics if metrics.get("epochs") == cfg.learning.epochs else None


def _run_gru(base: dict, seed: int, split: str, hidden: int) -> dict:
    """A non-spiking GRU on the same encoded spikes (the reference row): same epochs, AdamW, cross-entropy."""
    from neuroplast.config import validate_config
    from neuroplast.train.trainer import make_task, set_threads

    set_threads(1)
    data = copy.deepcopy(base)
    data["data"].setdefault("options", {})["split"] = split
    task = make_task(validate_config({**data, "name": "gru", "seed": seed}))
    (x_tr, y_tr), (x_te, y_te) = task.load_data()
    torch.manual_seed(seed)
    gru = torch.nn.GRU(x_tr.shape[2], hidden)
    head = torch.nn.Linear(hidden, 10)
    params = list(gru.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3)
    lrn = task.cfg.learning
    tic = time.perf_counter()

    def logits(x):
        out, _ = gru(task.inputs(x))
        return head(out.mean(0))

    for epoch in range(lrn.epochs):
        order = torch.randperm(len(x_tr), generator=torch.Generator().manual_seed(seed * 100003 + epoch))
        for start in range(0, len(x_tr), lrn.batch_size):
            idx = order[start:start + lrn.batch_size]
            loss = torch.nn.functional.cross_entropy(logits(x_tr[idx]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
    with torch.no_grad():
        pred = torch.cat([logits(x_te[s:s + 250]).argmax(1) for s in range(0, len(x_te), 250)])
    return {"accuracy": (pred == y_te).float().mean().item(), "seconds": round(time.perf_counter() - tic, 2)}


def _job(args):
    base, row, seed, split, out = args
    if row == "gru":
        hidden = sum(base["model"].get("hidden", [256, 256]))
        done = Path(out) / f"gru-{split.replace(':', '_')}-s{seed}.json"
        key = {"config": base, "hidden": hidden}
        try:
            saved = json.loads(done.read_text())
            if saved.get("key") == json.loads(json.dumps(key)):
                return row, seed, split, saved["result"]
        except (OSError, ValueError):
            pass
        result = _run_gru(base, seed, split, hidden)
        done.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(done, json.dumps({"key": key, "result": result}).encode())
        return row, seed, split, result
    return row, seed, split, _run_snn(base, row, seed, split, Path(out))


def _summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values)}


def run(config_path: str, out_dir: str | None = None) -> dict:
    path = Path(config_path)
    if not path.is_file():
        raise NeuroplastError(f"config file {str(path)!r} not found; see configs/fsdd-ablation.yaml")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise NeuroplastError(f"config file {str(path)!r} is not valid YAML: {exc}".splitlines()[0]) from None
    if not isinstance(raw, dict) or "ablation" not in raw:
        raise NeuroplastError(f"{config_path}: an ablation config needs an 'ablation' section (rows, seeds, splits)")
    spec = raw.pop("ablation")
    unknown = set(spec) - {"rows", "seeds", "splits", "workers", "gru"}
    if unknown:
        raise NeuroplastError(f"ablation: unknown key(s) {sorted(unknown)}; allowed: rows, seeds, splits, workers, gru")
    rows = list(spec.get("rows", DEFAULT_ROWS)) + (["gru"] if spec.get("gru", True) else [])
    seeds, splits = list(spec.get("seeds", [0, 1, 2])), list(spec.get("splits", ["index", "speaker:theo"]))
    from neuroplast.config import validate_config

    validate_config(copy.deepcopy(raw))
    out = Path(out_dir or Path("results") / raw.get("name", "fsdd-ablation"))
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(raw, row, seed, split, str(out / "runs")) for row in rows for split in splits for seed in seeds]
    results: dict = {}
    workers = int(spec.get("workers", 1))
    # Worker processes are spawned, as for the speech encoder: forking a parent whose numba/OpenMP threads already
    # ran can kill the child. One worker runs the jobs in this process.
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers > 1 else None
    try:
        for row, seed, split, res in (pool.map if pool else map)(_job, jobs):
            results.setdefault(row, {}).setdefault(split, {})[str(seed)] = res
            print(f"ablation: {row:12s} {split:14s} seed {seed}: {res['accuracy']:.4f}", file=sys.stderr, flush=True)
    finally:
        if pool:
            pool.shutdown()
    table = {"rows": [], "splits": splits, "seeds": seeds, "config": raw,
             "note": "same neuron counts and training budget for every SNN row; gru is a non-spiking reference on "
                     "the same spike features", "command": f"neuroplast ablate {config_path}"}
    for row in rows:
        entry = {"model": row, "seeds": results[row]}
        for split in splits:
            runs = list(results[row][split].values())
            entry[split] = _summary([r["accuracy"] for r in runs])
            if "firing_rates" in runs[0]:
                entry[split]["firing_rates"] = {
                    layer: statistics.fmean(r["firing_rates"][layer] for r in runs) for layer in runs[0]["firing_rates"]}
                entry[split]["synaptic_operations_per_inference"] = statistics.fmean(
                    r["synaptic_operations_per_inference"] for r in runs)
        table["rows"].append(entry)
    table["comparisons"] = _comparisons(table, "scsr-bip" if "scsr-bip" in rows else rows[0])
    atomic_write_bytes(out / "table.json", (json.dumps(table, indent=2) + "\n").encode())
    _plot(table, out / "table.png")
    return table


def _comparisons(table: dict, reference: str) -> dict:
    """Per split, the reference row's mean minus every other row's, with Welch's two-sided t-test over seeds: the
    issue asks whether ScSr + BIP really beats the other recurrent types, and a mean alone cannot say that."""
    from scipy.stats import ttest_ind

    acc = {r["model"]: {s: [v["accuracy"] for v in r["seeds"][s].values()] for s in table["splits"]}
           for r in table["rows"]}
    out = {"reference": reference, "test": "Welch's two-sided t-test over seeds", "splits": {}}
    for split in table["splits"]:
        ref = acc[reference][split]
        entries = []
        for row, by_split in acc.items():
            if row == reference:
                continue
            values = by_split[split]
            p = None
            if min(len(ref), len(values)) > 1:
                p = float(ttest_ind(ref, values, equal_var=False).pvalue)
                p = None if math.isnan(p) else p
            entries.append({"row": row, "difference": statistics.fmean(ref) - statistics.fmean(values), "p": p})
        out["splits"][split] = entries
    return out


def _plot(table: dict, path: Path):
    from neuroplast.plots import plt

    fig, ax = plt.subplots(figsize=(8, 3.8))
    names = [r["model"] for r in table["rows"]]
    width = 0.8 / len(table["splits"])
    for k, split in enumerate(table["splits"]):
        means = [r[split]["mean"] * 100 for r in table["rows"]]
        stds = [r[split]["std"] * 100 for r in table["rows"]]
        xs = [i + (k - (len(table["splits"]) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, means, width, yerr=stds, capsize=3, label=split)
        for i, row in enumerate(table["rows"]):
            for v in row["seeds"][split].values():
                ax.plot(xs[i], v["accuracy"] * 100, "k.", ms=3)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("test accuracy (%)")
    lo = min(v["accuracy"] for r in table["rows"] for s in r["seeds"].values() for v in s.values()) * 100
    ax.set_ylim(max(0, lo - 5), 100)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(prog="neuroplast ablate", description=__doc__)
    p.add_argument("config")
    p.add_argument("--out")
    a = p.parse_args(argv)
    table = run(a.config, a.out)
    print(json.dumps({r["model"]: {s: round(r[s]["mean"], 4) for s in table["splits"]} for r in table["rows"]}))
