"""Probe (session 25): how much of a committed SSTDP network's test error comes from its features and how much from
its spiking readout. The spike times entering the last layer (the features) are read out by float classifiers
trained with cross-entropy and Adam: logistic regression (linear, like the readout) and a one-hidden-layer MLP
(800 ReLU units). The same is done for the same layers at their initialisation (seed = the run's seed, before
any training; `templates` or other data-driven starts are not applied) and for the input spike times themselves,
so one sees what training the hidden layers added over untrained ones and over pixels. A time t inside the
simulated window becomes the value 1 - t / t_max, any later time (no spike) 0; `spikes_per_sample` counts the
former. Every classifier trains 10 epochs (batch 128, lr 1e-3, seed 0); its last epoch is reported, nothing is
picked on the test set. Usage:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/feature_ceiling.py results/sstdp-mnist-conv-map ...

Prints one JSON line per (result, features, classifier).
"""

import json
import sys
import time

import torch

from neuroplast.export.nir_export import load_result_model

EPOCHS, BATCH, LR, HIDDEN = 10, 128, 1e-3, 800


def last_layer_inputs(model, task, x: torch.Tensor) -> torch.Tensor:
    """Spike times entering the last IF layer, flattened, for all of ``x``."""
    out = []
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            xb = x[i:i + 1000]
            model(task.inputs(xb))
            out.append(model.record[-1][0].reshape(len(xb), -1))
    return torch.cat(out)


def spike_values(t: torch.Tensor, t_max: float, window: int) -> torch.Tensor:
    """Times as classifier inputs: 1 - t / t_max inside the simulated window, 0 for a later time (no spike)."""
    return torch.where(t < window, 1 - t / t_max, 0.0)


def readout(train, test, hidden: int, held=None) -> dict:
    """Train and test accuracy (and ``val`` on ``held``, when given) of a float classifier fitted to ``train``."""
    (xtr, ytr), (xte, yte) = train, test
    torch.manual_seed(0)
    n_in, n_out = xtr.shape[1], int(ytr.max()) + 1
    net = (torch.nn.Sequential(torch.nn.Linear(n_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_out))
           if hidden else torch.nn.Linear(n_in, n_out))
    opt = torch.optim.Adam(net.parameters(), LR)
    for _ in range(EPOCHS):
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), BATCH):
            idx = perm[i:i + BATCH]
            loss = torch.nn.functional.cross_entropy(net(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    parts = {"train": (xtr, ytr), **({"val": held} if held is not None else {}), "test": (xte, yte)}
    with torch.no_grad():
        return {name: round(100 * (net(x).argmax(1) == y).double().mean().item(), 2) for name, (x, y) in parts.items()}


def main(folders: list[str]):
    torch.set_num_threads(2)
    for folder in folders:
        cfg, task, trained = load_result_model(folder)
        (xtr, ytr), (xte, yte) = task.load_data(train=True)
        t_max, window = float(cfg.model.t_max), cfg.model.window or cfg.model.t_max
        torch.manual_seed(cfg.seed)
        untrained = task.build_model().eval()
        sources = {"trained": lambda x: last_layer_inputs(trained, task, x),
                   "untrained": lambda x: last_layer_inputs(untrained, task, x),
                   "input": lambda x: task.inputs(x).reshape(len(x), -1)}
        for name, features in sources.items():
            start = time.time()
            ttr, tte = features(xtr).float(), features(xte).float()
            spikes = round((ttr < window).double().sum(1).mean().item(), 1)
            ftr, fte = spike_values(ttr, t_max, window), spike_values(tte, t_max, window)
            for hidden in (0, HIDDEN):
                row = {"result": folder, "features": name, "n_features": ftr.shape[1],
                       "spikes_per_sample": spikes, "classifier": f"mlp-{hidden}" if hidden else "linear",
                       **readout((ftr, ytr), (fte, yte), hidden), "seconds": round(time.time() - start, 1)}
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
