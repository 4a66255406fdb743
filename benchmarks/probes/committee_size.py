"""Probe (session 24): how a spike-time committee's strict accuracy grows with its size, and how much of a
committee's figure is sampling noise. The members' test output times are computed once; a committee of the first
n folders is read out with a majority ``k = n // 2 + 1`` (what ``neuroplast vote`` does by default) for every n
from 1 to all, and the largest committee with every k. Each line carries the Wilson 95 % interval of the strict
accuracy over the test images, since a difference of a few test images is inside it. Usage:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/committee_size.py RESULT_DIR ...

Prints one JSON line per committee read out.
"""

import argparse
import json
import math
from pathlib import Path

from neuroplast.train.committee import member_outputs, vote_metrics


def wilson(p: float, n: int, z: float = 1.96) -> list[float]:
    """The Wilson score interval of a proportion p measured on n trials."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [round(centre - half, 4), round(centre + half, 4)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folders", nargs="+")
    args = ap.parse_args()
    times, y, t_max, _, _ = member_outputs([Path(f) for f in args.folders])
    n_all = times.shape[0]
    readouts = [(n, n // 2 + 1) for n in range(1, n_all + 1)] + [(n_all, k) for k in range(1, n_all + 1)
                                                                   if k != n_all // 2 + 1]
    for n, k in readouts:
        readout = vote_metrics(times[:n], y, t_max, k)
        strict = readout["test_accuracy"]
        print(json.dumps({"members": n, "k": k, "majority": k == n // 2 + 1, "strict": round(strict, 4),
                          "strict_wilson95": wilson(strict, len(y)),
                          "lenient": round(readout["lenient_accuracy"], 4), "test_images": len(y)}), flush=True)


if __name__ == "__main__":
    main()
