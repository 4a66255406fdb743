"""Probe (session 17): do independently trained SSTDP networks make different errors? Each result folder's
network gives its test output times; a class's vote time is the k-th earliest of its members' output times for
that class (k = a majority by default), which is exactly what one more spike-once IF layer computes with fixed
weights 1 from the members' same-class outputs and threshold k - 0.5 (strict ``v > theta``, no delay). The
vote is scored with the strict metric (ties and all-silent outputs are errors). Since session 23 the same vote is
the command ``neuroplast vote`` (``neuroplast.train.committee``), which this probe now calls. Usage:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/ensemble_vote.py [--k K] RESULT_DIR ...

Prints one JSON line: each member's strict accuracy and the vote's strict / lenient accuracy.
"""

import argparse
import json
from pathlib import Path

from neuroplast.train.committee import score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=None, help="votes needed (default: a majority of the members)")
    ap.add_argument("folders", nargs="+")
    args = ap.parse_args()
    result = score([Path(f) for f in args.folders], args.k)
    print(json.dumps({"members": args.folders, "member_strict": [round(a, 4) for a in result["member_test_accuracy"]],
                      "k": result["k"], "vote_strict": round(result["test_accuracy"], 4),
                      "vote_lenient": round(result["lenient_accuracy"], 4)}), flush=True)


if __name__ == "__main__":
    main()
