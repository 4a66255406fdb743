"""Progress and metric files: bars on a terminal, plain lines elsewhere; metrics.jsonl + metrics.csv always,
TensorBoard when it imports."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import types

import pytest
import yaml

from neuroplast.cli import main
from neuroplast.train import progress as progress_mod
from neuroplast.train.progress import LineProgress, csv_text, progress, progress_bar
from tiny_configs import tiny_sstdp

TINY = tiny_sstdp("logging", 2, 96, 40, 16, batch_size=8, epochs=3)


def write_config(tmp_path, **train):
    data = {**TINY, "train": {**TINY["train"], **train}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_not_a_terminal_gives_quarter_lines():
    stream = io.StringIO()
    assert list(progress(range(10), desc="encode", stream=stream)) == list(range(10))
    lines = stream.getvalue().splitlines()
    assert [ln.split(" (")[0] for ln in lines] == ["encode: 3/10", "encode: 5/10", "encode: 8/10", "encode: 10/10"]
    assert "\r" not in stream.getvalue()


def test_disabled_and_one_step_are_silent():
    stream = io.StringIO()
    assert list(progress(range(5), desc="x", enabled=False, stream=stream)) == list(range(5))
    with progress_bar(1, "single", stream=stream) as bar:
        bar.update()
    assert stream.getvalue() == ""


def test_terminal_gets_a_tqdm_bar():
    stream = FakeTTY()
    bar = progress_bar(4, "epoch 1/1", stream=stream)
    assert not isinstance(bar, LineProgress) and type(bar).__name__ == "tqdm"
    for _ in range(4):
        bar.update()
    bar.close()
    assert "epoch 1/1" in stream.getvalue()


def test_csv_takes_every_column_in_order():
    text = csv_text([{"epoch": 1, "loss": 0.5, "reinit": 2}, {"epoch": 2, "loss": 0.25, "test_acc": 0.9}])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["epoch", "loss", "reinit", "test_acc"]
    assert rows[0]["test_acc"] == "" and rows[1]["reinit"] == "" and float(rows[1]["loss"]) == 0.25


def read_csv(path):
    return list(csv.DictReader(path.open()))


def assert_csv_matches_jsonl(out):
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    rows = read_csv(out / "metrics.csv")
    assert len(rows) == len(records)
    for row, rec in zip(rows, records):
        for k, v in rec.items():
            assert float(row[k]) == pytest.approx(float(v)), k
    return records


def test_run_writes_csv_beside_jsonl_and_resume_keeps_it_exact(tmp_path, monkeypatch):
    monkeypatch.setattr(progress_mod, "tensorboard_writer", lambda log_dir: None)
    out = tmp_path / "run"
    assert main(["train", str(write_config(tmp_path, stop_after=2)), "--out", str(out)]) == 0
    assert [r["epoch"] for r in assert_csv_matches_jsonl(out)] == [1, 2]
    with open(out / "metrics.csv", "a") as fh:  # a row from an epoch the checkpoint never saw
        fh.write("3,junk\n")
    assert main(["resume", str(out)]) == 0
    assert [r["epoch"] for r in assert_csv_matches_jsonl(out)] == [1, 2, 3]
    assert not list(out.glob(".*.tmp"))


class FakeWriter:
    made: list = []

    def __init__(self, log_dir):
        self.log_dir, self.scalars, self.closed = log_dir, [], False
        FakeWriter.made.append(self)

    def add_scalar(self, key, value, step):
        self.scalars.append((key, value, step))

    def flush(self):
        pass

    def close(self):
        self.closed = True


def test_tensorboard_used_when_it_imports(tmp_path, monkeypatch):
    fake = types.ModuleType("torch.utils.tensorboard")
    fake.SummaryWriter = FakeWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", fake)
    FakeWriter.made = []
    out = tmp_path / "run"
    assert main(["train", str(write_config(tmp_path)), "--out", str(out)]) == 0
    (writer,) = FakeWriter.made
    assert writer.log_dir == str(out / "tensorboard") and writer.closed
    steps = sorted({step for key, _, step in writer.scalars if key == "train_loss"})
    assert steps == [1, 2, 3] and any(key == "test_accuracy" for key, _, _ in writer.scalars)


def test_tensorboard_absent_is_skipped_silently(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import raises ImportError
    assert progress_mod.tensorboard_writer(tmp_path / "tb") is None
    out = tmp_path / "run"
    assert main(["train", str(write_config(tmp_path)), "--out", str(out)]) == 0
    assert not (out / "tensorboard").exists() and (out / "metrics.csv").is_file()


def test_log_file_gets_plain_progress_lines(tmp_path):
    """stderr redirected (not a terminal): epoch and eval progress come as whole lines, no carriage returns."""
    proc = subprocess.run([sys.executable, "-m", "neuroplast.cli", "train", str(write_config(tmp_path, progress=True)),
                           "--out", str(tmp_path / "run"), "--set", "learning.epochs=1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert "epoch 1/1: 12/12 (100%)" in " ".join(lines)
    assert sum(ln.startswith("epoch 1/1: ") for ln in lines) == 4
