"""Probe (session 17): do independently trained SSTDP networks make different errors? Each result folder's
network gives its test output times; a class's vote time is the k-th earliest of its members' output times for
that class (k = a majority by default), which is exactly what one more spike-once IF layer computes with fixed
weights 1 from the members' same-class outputs and threshold k - 0.5 (strict ``v > theta``, no delay). The
vote is scored with the strict metric (ties and all-silent outputs are errors). Usage:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/ensemble_vote.py [--k K] RESULT_DIR ...

Prints one JSON line: each member's strict accuracy and the vote's strict / lenient accuracy.
"""

import argparse
import json

import torch

from neuroplast.export.nir_export import load_result_model
from neuroplast.learning.sstdp import lenient_correct, strict_correct


def member_times(folder: str):
    cfg, task, model = load_result_model(folder)
    _, (x_test, y_test) = task.load_data(train=False)
    model.eval()
    with torch.no_grad():
        t = torch.cat([model(task.inputs(x_test[i:i + 1000])) for i in range(0, len(x_test), 1000)])
    return t, y_test, cfg.model.t_max


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=None, help="votes needed (default: a majority of the members)")
    ap.add_argument("folders", nargs="+")
    args = ap.parse_args()
    times, members = [], []
    for folder in args.folders:
        t, y, t_max = member_times(folder)
        times.append(t)
        members.append(round(float(strict_correct(t, y, t_max).float().mean()), 4))
    k = args.k or len(times) // 2 + 1
    vote = torch.stack(times).sort(dim=0).values[k - 1]
    print(json.dumps({"members": args.folders, "member_strict": members, "k": k,
                      "vote_strict": round(float(strict_correct(vote, y, t_max).float().mean()), 4),
                      "vote_lenient": round(float(lenient_correct(vote, y).float().mean()), 4)}), flush=True)


if __name__ == "__main__":
    main()
