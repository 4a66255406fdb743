"""``neuroplast vote``: a committee of SSTDP runs read out by one more spike-once IF layer."""

import json

import pytest
import torch
import yaml

from neuroplast.cli import main
from neuroplast.functional.ttfs import if_forward_reference, vote_times
from neuroplast.learning.sstdp import strict_correct
from tiny_configs import tiny_sstdp


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_vote_is_an_if_layer_with_unit_weights(seed, k):
    """The k-th earliest member time per class is what an IF layer computes from the members' outputs with weight
    1 from each member's same-class neuron and threshold k - 1/2 (strict crossing, whole step added first)."""
    g = torch.Generator().manual_seed(seed)
    members, batch, classes, t_max = 3, 40, 5, 20
    times = torch.randint(0, t_max + 1, (members, batch, classes), generator=g).double()
    flat = times.permute(1, 0, 2).reshape(batch, members * classes)
    weight = torch.zeros(classes, members * classes, dtype=torch.float64)
    for m in range(members):
        weight[:, m * classes:(m + 1) * classes] = torch.eye(classes, dtype=torch.float64)
    expected = if_forward_reference(flat, weight, k - 0.5, t_max)
    assert torch.equal(vote_times(times, k, t_max), expected)


def test_vote_by_hand():
    t_max = 10
    times = torch.tensor([[[2., 10.]], [[4., 3.]], [[10., 3.]]])
    assert vote_times(times, 1, t_max).tolist() == [[2., 3.]]
    assert vote_times(times, 2, t_max).tolist() == [[4., 3.]]
    assert vote_times(times, 3, t_max).tolist() == [[10., 10.]]


@pytest.mark.parametrize("k", [0, 4])
def test_votes_outside_the_members_are_refused(k):
    with pytest.raises(ValueError, match="votes k"):
        vote_times(torch.zeros(3, 2, 2), k, 10)


def _members(tmp_path, seeds=(0, 1, 2), **data):
    folders = []
    tmp_path.mkdir(exist_ok=True)
    for seed in seeds:
        cfg = tiny_sstdp("member", seed, 300, 100, batch_size=32, epochs=2)
        cfg["data"].update(data)
        path = tmp_path / f"cfg{seed}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        out = tmp_path / f"member{seed}"
        assert main(["train", str(path), "--out", str(out)]) == 0
        folders.append(out)
    return folders


def test_vote_writes_a_committee_that_eval_recomputes(tmp_path, capsys):
    folders = _members(tmp_path)
    out = tmp_path / "committee"
    assert main(["vote", *map(str, folders), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["k"] == 2 and metrics["method"] == "sstdp-committee"
    members = [json.loads((f / "metrics.json").read_text()) for f in folders]
    assert metrics["member_test_accuracy"] == pytest.approx([m["test_accuracy"] for m in members])
    assert metrics["additions_per_inference"] == pytest.approx(
        sum(m["additions_per_inference"] for m in members) + metrics["additions_vote_layer"])
    assert 0 < metrics["additions_vote_layer"] <= 3 * 10
    assert metrics["lenient_accuracy"] >= metrics["test_accuracy"]
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("test_accuracy", "lenient_accuracy", "mean_output_time", "additions_per_inference"):
        assert again[key] == pytest.approx(metrics[key])


def test_vote_of_one_network_twice_is_that_network(tmp_path):
    """Two copies of one run agree on every sample, so any k gives the run's own strict accuracy."""
    (folder,) = _members(tmp_path, seeds=(0,))
    for k in (1, 2):
        out = tmp_path / f"twice{k}"
        assert main(["vote", str(folder), str(folder), "--k", str(k), "--out", str(out)]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        own = json.loads((folder / "metrics.json").read_text())["test_accuracy"]
        assert metrics["test_accuracy"] == pytest.approx(own)


def test_committee_accuracy_is_strict_on_the_vote():
    t_max = 10
    times = torch.tensor([[[1., 5.], [3., 3.]], [[2., 1.], [10., 10.]], [[1., 4.], [10., 2.]]])
    vote = vote_times(times, 2, t_max)
    assert vote.tolist() == [[1., 4.], [10., 3.]]
    assert strict_correct(vote, torch.tensor([0, 1]), t_max).tolist() == [True, True]


def test_bad_committees_end_with_one_clear_line(tmp_path, capsys):
    folders = _members(tmp_path, seeds=(0, 1))
    out = tmp_path / "committee"
    assert main(["vote", str(folders[0]), "--out", str(out)]) == 2
    assert "at least 2 member" in capsys.readouterr().err
    assert main(["vote", *map(str, folders), "--k", "3", "--out", str(out)]) == 2
    assert "--k must be in [1, 2]" in capsys.readouterr().err
    assert main(["vote", str(folders[0]), str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "has no checkpoint.pt" in capsys.readouterr().err
    (other,) = _members(tmp_path / "other", seeds=(5,), limit_test=50)
    assert main(["vote", str(folders[0]), str(other), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "differs from" in err and "in data" in err
    assert main(["vote", *map(str, folders), "--out", str(out)]) == 0
    assert main(["vote", *map(str, folders), "--out", str(out)]) == 2
    assert "already holds a result" in capsys.readouterr().err
    assert main(["vote", *map(str, folders), "--out", str(out), "--force"]) == 0
    before = (folders[0] / "metrics.json").read_bytes()
    assert main(["vote", *map(str, folders), "--out", str(folders[0]), "--force"]) == 2
    assert "holds a trained run" in capsys.readouterr().err
    assert (folders[0] / "metrics.json").read_bytes() == before and not (folders[0] / "committee.json").exists()
    recorded = json.loads((folders[1] / "metrics.json").read_text())
    recorded["command"] = "neuroplast train cfg1.yaml --set seed=1 --out /scratch/m1 --force"
    (folders[1] / "metrics.json").write_text(json.dumps(recorded))
    (folders[1] / "checkpoint.pt").rename(tmp_path / "kept.pt")
    assert main(["eval", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"has no checkpoint.pt; retrain it with `neuroplast train cfg1.yaml --set seed=1 --out {folders[1]}`" in err
    (tmp_path / "kept.pt").rename(folders[1] / "checkpoint.pt")
    for command in ("plot", "export"):
        assert main([command, str(out)]) == 2
        assert f"keeps no network of its own to {command}" in capsys.readouterr().err
    (out / "committee.json").write_text("{not json")
    assert main(["eval", str(out)]) == 2
    assert "committee.json is unreadable" in capsys.readouterr().err
