"""Probe (session 12): how much a front-end setting carries, measured without the network: an RBF SVM (C 10) on
standardised spike counts in 35 time bins, 5-fold cross-validation on the FSDD index split's training part, plus
its test score. The argument is a JSON dict of encoder options on top of the scsr-fsdd step grid (5 steps per
frame, 350 steps); its key "frontend" picks "lyon-bsa" (default) or "mel".

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/fsdd_frontend_svm.py '{"threshold": 0.3}'
    NEUROPLAST_DATA=../shared/data python benchmarks/probes/fsdd_frontend_svm.py '{"frontend": "mel", "n_mels": 40}'
"""
import json
import os
import sys

import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import SVC

from neuroplast.data.fsdd import load_fsdd
from neuroplast.data.speech import LyonBSAEncoder, MelThresholdEncoder

ENCODERS = {"lyon-bsa": LyonBSAEncoder, "mel": MelThresholdEncoder}


def binned_counts(x, bins=35):
    """Spike counts per channel in ``bins`` equal time bins, flattened: (N, bins * C)."""
    edges = np.linspace(0, x.shape[1], bins + 1).astype(int)
    return np.stack([x[:, a:b].sum(1) for a, b in zip(edges[:-1], edges[1:])], 1).reshape(len(x), -1).astype(float)


if __name__ == "__main__":
    opts = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    settings = dict(opts)
    encoder = ENCODERS[settings.pop("frontend", "lyon-bsa")]
    enc = encoder(**{"steps_per_frame": 5, "n_steps": 350, **settings})
    root = os.environ.get("NEUROPLAST_DATA", "../shared/data")
    xtr, ytr = load_fsdd(enc, "index", "train", root)
    xte, yte = load_fsdd(enc, "index", "test", root)
    ftr, fte = binned_counts(xtr), binned_counts(xte)
    mu, sd = ftr.mean(0), ftr.std(0) + 1e-6
    ftr, fte = (ftr - mu) / sd, (fte - mu) / sd
    clf = SVC(C=10, gamma="scale")
    cv = cross_val_score(clf, ftr, ytr, cv=StratifiedKFold(5, shuffle=True, random_state=0)).mean()
    te = clf.fit(ftr, ytr).score(fte, yte)
    print(json.dumps(dict(opts=opts, rate=float(xtr.mean()), cv=round(cv, 4), test=round(te, 4))))
