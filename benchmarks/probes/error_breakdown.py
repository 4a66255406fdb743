"""Probe (sessions 21-22): where a committed SSTDP result's strict test errors come from. Each test sample falls in
one group: `correct` (the label neuron alone fires first), `silent` (no output fires), `tie` (the label neuron
fires first together with another) or `wrong` (another neuron fires strictly first). Beside each group's share it
prints its images' mean ink (sum of intensities) and mean foreground intensity (over non-zero pixels), taken
after the run's own preprocessing: silent groups of thin digits or dark garments show there. Usage:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/error_breakdown.py results/sstdp-mnist-ink ...

Prints one JSON line per result folder.
"""

import json
import sys

import torch

from neuroplast.export.nir_export import load_result_model


def groups(t_out: torch.Tensor, y: torch.Tensor, t_max: int) -> dict[str, torch.Tensor]:
    first = t_out.min(dim=1).values
    label = t_out[torch.arange(len(y)), y]
    silent = first >= t_max
    at_first = (t_out == first[:, None]).sum(dim=1)
    won = ~silent & (label == first)
    return {"correct": won & (at_first == 1), "silent": silent, "tie": won & (at_first > 1),
            "wrong": ~silent & (label > first)}


def main(folders: list[str]):
    for folder in folders:
        cfg, task, model = load_result_model(folder)
        _, (x, y) = task.load_data(train=False)
        model.eval()
        with torch.no_grad():
            t_out = torch.cat([model(task.inputs(x[i:i + 1000])) for i in range(0, len(x), 1000)])
        flat = x.reshape(len(x), -1).double()
        ink = flat.sum(dim=1)
        foreground = ink / (flat > 0).sum(dim=1).clamp_min(1)
        row = {"result": folder}
        for name, mask in groups(t_out, y, cfg.model.t_max).items():
            some = bool(mask.any())
            row[name] = {"percent": round(100 * mask.double().mean().item(), 2),
                         "ink": round(ink[mask].mean().item(), 1) if some else None,
                         "foreground": round(foreground[mask].mean().item(), 3) if some else None}
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
