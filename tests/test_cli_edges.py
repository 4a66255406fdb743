"""Command-line edge cases an audit found ending in tracebacks or silence: each now ends in one clear line."""

import json

import pytest
import torch
import yaml

from neuroplast.cli import main
from neuroplast.train.checkpoint import save_checkpoint
from tiny_configs import tiny_sstdp

TINY = tiny_sstdp("edges", 0, 100, 50, hidden=8, batch_size=50, epochs=1)


def write_config(tmp_path, data=TINY):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


def fake_checkpoint(path, shapes, t_max=8, window=7, thetas=(3.0, 40.0)):
    """A checkpoint with weights of the given shapes and an SSTDP config (its t_max, window and thresholds):
    enough for the benchmark, which builds its own network from them."""
    state = {f"layers.{i}.weight": torch.rand(*s) for i, s in enumerate(shapes)}
    layers = [{"type": "linear", "out": s[0], "theta": th} for s, th in zip(shapes, thetas)]
    config = {**TINY, "model": {"t_max": t_max, "window": window, "theta": thetas[0], "layers": layers}}
    save_checkpoint(path, model=state, optimizer={}, rng={}, history=[], epoch=0, seconds=0.0, config=config)
    return path


@pytest.mark.parametrize("item, column", [("learning.lr=[1", 3), ("data.options={augment: {shift: 1}", 21)])
def test_malformed_set_value(tmp_path, capsys, item, column):
    out = tmp_path / "o"
    assert main(["train", str(write_config(tmp_path)), "--out", str(out), "--set", item]) == 2
    err = one_line_error(capsys)
    assert f"--set {item!r}" in err and "not valid YAML" in err and f"column {column}" in err
    assert not out.exists()


def test_train_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert main(["train", str(write_config(tmp_path)), "--out", str(target)]) == 2
    assert "--out must be a folder" in one_line_error(capsys)
    assert target.read_text() == "keep me"
    assert main(["train", str(write_config(tmp_path)), "--out", str(target / "sub")]) == 2
    assert "is a file" in one_line_error(capsys)


def test_export_out_is_a_folder(tmp_path, capsys):
    folder = tmp_path / "exports"
    folder.mkdir()
    assert main(["export", str(tmp_path / "result"), "--out", str(folder)]) == 2
    err = one_line_error(capsys)
    assert "--out is the NIR file" in err and str(folder / "model.nir") in err
    assert not any(folder.iterdir())


def test_bench_takes_hidden_size_from_checkpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEUROPLAST_DATA", str(tmp_path / "no-data"))
    ckpt = fake_checkpoint(tmp_path / "checkpoint.pt", [(12, 784), (10, 12)])
    out = tmp_path / "bench.json"
    assert main(["bench", "sstdp", "--checkpoint", str(ckpt), "--batch", "2", "--repeats", "1",
                 "--out", str(out)]) == 0
    setup = json.loads(out.read_text())["setup"]
    assert setup["network"] == "784-12-10"
    assert (setup["t_max"], setup["window"], setup["theta"]) == (8, 7, [3.0, 40.0])  # the trained network's
    capsys.readouterr()
    assert main(["bench", "sstdp", "--checkpoint", str(ckpt), "--hidden", "400", "--out", str(out)]) == 2
    assert "784-12-10" in one_line_error(capsys)
    assert main(["bench", "sstdp", "--checkpoint", str(ckpt), "--t-max", "255", "--out", str(out)]) == 2
    assert "t_max 8" in one_line_error(capsys)


def test_bench_refuses_other_shapes(tmp_path, capsys):
    ckpt = fake_checkpoint(tmp_path / "checkpoint.pt", [(200, 2480), (2, 200)])
    out = tmp_path / "bench.json"
    assert main(["bench", "sstdp", "--checkpoint", str(ckpt), "--out", str(out)]) == 2
    err = one_line_error(capsys)
    assert "2480-200-2" in err and "784-H-10" in err
    assert not out.exists()


@pytest.mark.parametrize("args", [["--batch", "0"], ["--repeats", "0"], ["--batch", "-4"], ["--repeats", "-1"]])
def test_bench_rejects_non_positive_sizes(tmp_path, capsys, args):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "sstdp", *args, "--out", str(tmp_path / "bench.json")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {args[0]}: must be >= 1" in err
    assert not (tmp_path / "bench.json").exists()


def test_verify_with_no_datasets_says_where_it_looked(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "missing"
    monkeypatch.setenv("NEUROPLAST_DATA", str(missing))
    assert main(["data", "verify"]) == 2
    err = one_line_error(capsys)
    assert str(missing) in err and "does not exist" in err and "$NEUROPLAST_DATA" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["data", "verify", "--root", str(empty)]) == 2
    err = one_line_error(capsys)
    assert str(empty) in err and "no known dataset" in err


def test_resume_of_a_finished_run_changes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(write_config(tmp_path)), "--out", str(out)]) == 0
    before = {name: (out / name).read_bytes() for name in ("metrics.json", "checkpoint.pt", "metrics.jsonl")}
    capsys.readouterr()
    assert main(["resume", str(out)]) == 2
    err = one_line_error(capsys)
    assert "is complete" in err and "learning.epochs=N" in err
    assert {name: (out / name).read_bytes() for name in before} == before


def test_resume_writes_metrics_a_kill_left_out(tmp_path, capsys):
    """Killed after the last checkpoint but before metrics.json: resume still finishes the run."""
    out = tmp_path / "run"
    assert main(["train", str(write_config(tmp_path)), "--out", str(out)]) == 0
    (out / "metrics.json").unlink()
    assert main(["resume", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["name"] == "edges"


@pytest.mark.parametrize("root", ["missing", "empty"])
def test_missing_data_names_env_and_set_key(tmp_path, capsys, root):
    (tmp_path / "empty").mkdir()
    data = {**TINY, "data": {"dataset": "mnist", "root": str(tmp_path / root)}}
    assert main(["train", str(write_config(tmp_path, data)), "--out", str(tmp_path / "o")]) == 2
    err = one_line_error(capsys)
    assert "NEUROPLAST_DATA" in err and "--set data.root=" in err and "pass root=" not in err


def test_window_error_names_the_key(tmp_path, capsys):
    assert main(["train", str(write_config(tmp_path)), "--out", str(tmp_path / "o"), "--set", "model.window=40"]) == 2
    assert "model.window" in one_line_error(capsys)


def test_fallback_notice_once(tmp_path, capsys):
    data = {**TINY, "data": {"dataset": "mnist", "root": str(tmp_path / "nowhere"), "fallback": "digits",
                             "limit_train": 100, "limit_test": 50}}
    assert main(["train", str(write_config(tmp_path, data)), "--out", str(tmp_path / "fb")]) == 0
    assert capsys.readouterr().err.count("falling back") == 1
