"""Analysis behind docs/scsr.md: which test utterances a ScSr result gets wrong, with every output's spike count,
and how the same speaker's training recordings of the confused digits fare. Usage, as run:

    NEUROPLAST_DATA=../shared/data python benchmarks/probes/fsdd_errors.py results/scsr-fsdd yweweler 6 8
"""

import sys
from pathlib import Path

import torch

from neuroplast.data.fsdd import list_fsdd, split_fsdd
from neuroplast.train.checkpoint import checkpoint_config, load_checkpoint, load_states
from neuroplast.train.trainer import make_task


def counts(task, model, x, batch=50):
    with torch.no_grad():
        return torch.cat([model(task.inputs(x[i:i + batch]))[0].sum(0) for i in range(0, len(x), batch)])


def main(result_dir: str, speaker: str, digits: list[int]):
    torch.set_num_threads(1)
    path = Path(result_dir) / "checkpoint.pt"
    ckpt = load_checkpoint(path)
    task = make_task(checkpoint_config(ckpt, path))
    (x_train, y_train), (x_test, y_test) = task.load_data()
    model = task.build_model()
    load_states(ckpt, path, model)
    model.eval()
    items = list_fsdd()
    for part, x, y in (("test", x_test, y_test), ("train", x_train, y_train)):
        names = split_fsdd(items, task.split, part)
        c = counts(task, model, x)
        top = c.topk(2, dim=1).values
        right = (c.argmax(1) == y) & (top[:, 0] > top[:, 1])
        if part == "test":
            for i in torch.nonzero(~right).flatten().tolist():
                tie = " tie" if top[i, 0] == top[i, 1] else ""
                print(f"{names[i].path.name} label {int(y[i])} counts {c[i].int().tolist()}{tie}")
        for d in digits:
            sel = torch.tensor([it.speaker == speaker and it.label == d for it in names])
            print(f"{part}: {speaker} digit {d}: {int(right[sel].sum())} / {int(sel.sum())} right")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [int(d) for d in sys.argv[3:]])
