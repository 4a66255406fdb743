"""Probe (session 16): a committed SSTDP result's strict and lenient accuracy on its own training images, as
evaluated after training (no augmentation, final weights), beside its test accuracy. The `train_accuracy` that
runs log is a running figure over the epoch's augmented (e.g. shifted) images while the weights still move, so it
says little about how well the final network fits. Usage:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/train_fit.py results/sstdp-mnist-templates ...

Prints one JSON line per result folder.
"""

import json
import sys

from neuroplast.export.nir_export import load_result_model
from neuroplast.train.trainer import evaluate


def main(folders: list[str]):
    for folder in folders:
        cfg, task, model = load_result_model(folder)
        (x, y), (x_test, y_test) = task.load_data()
        train, test = evaluate(task, model, x, y), evaluate(task, model, x_test, y_test)
        print(json.dumps({"result": folder, "train_strict": round(train["accuracy"], 4),
                          "train_lenient": round(train["lenient_accuracy"], 4),
                          "test_strict": round(test["accuracy"], 4), "test_lenient": round(test["lenient_accuracy"], 4),
                          "augment": task.options.get("augment") or cfg.data.options.get("augment")}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
