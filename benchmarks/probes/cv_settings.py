"""Probe (session 14): compare settings of one config by K-fold cross-validation on its training set, never its test
set. Each (setting, fold) is one `neuroplast train CONFIG --set data.validation=1/K --set data.validation_fold=F
--set seed=F --set ...` run (two at a time); the summary gives each setting's validation accuracy per fold, its
mean, and its mean difference from the first setting over the same folds (paired: fold and seed are shared).
A single held-out tenth (220 FSDD utterances) moves by a point between seeds, which hid differences this size.

    python benchmarks/probes/cv_settings.py configs/scsr-fsdd-mel.yaml runs/cv \
        '{"base": [], "b25ep50": ["learning.batch_size=25", "learning.epochs=50"]}' [--folds 5] [--workers 2]

Finished runs (a metrics.json in their folder) are reused, so a stopped probe resumes. Prints one JSON line per
setting and writes them to OUT/summary.jsonl.
"""
import argparse
import json
import os
import statistics
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def run(config: str, out: Path, folds: int, name: str, sets: list[str], fold: int) -> float:
    folder = out / f"{name}_f{fold}"
    if not (folder / "metrics.json").exists():
        cmd = ["neuroplast", "train", config, "--out", str(folder), "--force",
               "--set", f"data.validation={1 / folds!r}", "--set", f"data.validation_fold={fold}",
               "--set", f"seed={fold}"] + [a for s in sets for a in ("--set", s)]
        with open(out / f"{name}_f{fold}.log", "w") as log:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=log, check=True)
    return json.loads((folder / "metrics.json").read_text())["validation_accuracy"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("out", type=Path)
    ap.add_argument("settings", help='JSON: {"name": ["key=value", ...], ...}; the first is the reference')
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    settings = json.loads(args.settings)
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [(name, sets, f) for f in range(args.folds) for name, sets in settings.items()]
    with ThreadPoolExecutor(args.workers) as pool:
        accs = list(pool.map(lambda j: run(args.config, args.out, args.folds, *j), jobs))
    per = {name: [a for (n, _, _), a in zip(jobs, accs) if n == name] for name in settings}
    ref = per[next(iter(settings))]
    lines = []
    for name, sets in settings.items():
        diffs = [a - b for a, b in zip(per[name], ref)]
        lines.append(json.dumps({
            "setting": name, "set": sets, "config": args.config, "folds": args.folds,
            "validation_per_fold": [round(100 * a, 2) for a in per[name]],
            "mean": round(100 * statistics.mean(per[name]), 2),
            "sd": round(100 * statistics.stdev(per[name]), 2) if args.folds > 1 else 0.0,
            "mean_minus_reference": round(100 * statistics.mean(diffs), 2),
            "folds_above_reference": sum(d > 0 for d in diffs)}))
    text = "\n".join(lines) + "\n"
    (args.out / "summary.jsonl").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    os.environ.setdefault("NEUROPLAST_DATA", "../shared/data")
    main()
