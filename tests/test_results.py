"""The committed results and the README's table agree: every figure a row quotes is the one its run wrote.

A figure copied by hand drifts when a run is redone; these checks catch it without retraining (`neuroplast eval
results/<name>` recomputes a figure from its checkpoint, with the data).
"""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
ISSUE_KEYS = {"test_accuracy", "lenient_accuracy", "mean_output_time", "additions_per_inference", "epochs", "seconds",
              "command"}


def _runs():
    return sorted(p.parent for p in RESULTS.glob("*/metrics.json") if not (p.parent / "committee.json").exists())


def _committees():
    return sorted(p.parent for p in RESULTS.glob("*/committee.json"))


def _table_rows():
    """(config name, "ours" cell) of every README results row whose command is `neuroplast train configs/X.yaml`."""
    rows = []
    for line in (ROOT / "README.md").read_text().splitlines():
        m = re.match(r"\|[^|]*\| `neuroplast train configs/([\w-]+)\.yaml` \| ([^|]*)\|", line)
        if m:
            rows.append((m.group(1), m.group(2)))
    return rows


def _agrees(quoted: str, fraction: float) -> bool:
    """A quoted percentage agrees when it is the fraction rounded to the decimals it shows."""
    decimals = len(quoted.split(".")[1]) if "." in quoted else 0
    return f"{100 * fraction:.{decimals}f}" == quoted


@pytest.mark.parametrize("run", _runs(), ids=lambda p: p.name)
def test_result_folder_is_complete(run):
    metrics = json.loads((run / "metrics.json").read_text())
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert metrics["name"] == config["name"] == run.name
    assert metrics["command"].startswith(("neuroplast train configs/", "neuroplast resume results/"))
    assert (run / "training_curves.png").is_file()
    checkpoint = run / "checkpoint.pt"
    assert checkpoint.is_file() and checkpoint.stat().st_size < 12e6, "checkpoints are small (a few MB)"
    if metrics["method"] == "sstdp":
        assert ISSUE_KEYS <= metrics.keys()
        assert metrics["lenient_accuracy"] >= metrics["test_accuracy"]


@pytest.mark.parametrize("committee", _committees(), ids=lambda p: p.name)
def test_committee_folder_names_its_committed_members(committee):
    """A committee (``neuroplast vote``) keeps no checkpoint of its own; its members are result folders in the
    repo, and the member accuracies it quotes are theirs."""
    spec = json.loads((committee / "committee.json").read_text())
    metrics = json.loads((committee / "metrics.json").read_text())
    assert metrics["name"] == committee.name and metrics["command"].startswith("neuroplast vote results/")
    assert metrics["members"] == spec["members"] and metrics["k"] == spec["k"]
    assert ISSUE_KEYS - {"epochs"} <= metrics.keys()
    for member, quoted in zip(spec["members"], metrics["member_test_accuracy"], strict=True):
        member_metrics = json.loads((committee / member / "metrics.json").read_text())
        assert member_metrics["test_accuracy"] == quoted, member


def test_table_quotes_each_committees_test_accuracy():
    rows = [re.match(r"\|[^|]*\| `neuroplast vote [^`]*--out results/([\w-]+)` \| ([^|]*)\|", line)
            for line in (ROOT / "README.md").read_text().splitlines()]
    rows = [m for m in rows if m]
    assert len(rows) == len(_committees())
    for m in rows:
        metrics = json.loads((RESULTS / m.group(1) / "metrics.json").read_text())
        first = re.search(r"(\d+(?:\.\d+)?) %", m.group(2)).group(1)
        assert _agrees(first, metrics["test_accuracy"]), (m.group(1), first, metrics["test_accuracy"])


def test_table_quotes_each_runs_own_test_accuracy():
    rows = _table_rows()
    assert len(rows) >= 10
    for name, cell in rows:
        metrics = json.loads((RESULTS / name / "metrics.json").read_text())
        first = re.search(r"(\d+(?:\.\d+)?) %", cell).group(1)
        assert _agrees(first, metrics["test_accuracy"]), (name, first, metrics["test_accuracy"])


def test_table_quotes_the_committed_seeds():
    checked = 0
    for name, cell in _table_rows():
        listed = re.search(r"seeds 1-(\d+): ([\d. /]+) %", cell)
        folder = re.search(r"`results/([\w-]+-seeds)/`", cell)
        if not listed or not folder:
            continue
        values = listed.group(2).split(" / ")
        assert len(values) == int(listed.group(1))
        for seed, quoted in enumerate(values, start=1):
            run = RESULTS / folder.group(1) / f"seed{seed}"
            metrics = json.loads((run / "metrics.json").read_text())
            assert yaml.safe_load((run / "config.yaml").read_text())["seed"] == seed
            assert metrics["name"] == name
            assert _agrees(quoted, metrics["test_accuracy"]), (name, seed, quoted, metrics["test_accuracy"])
            checked += 1
    assert checked >= 20


def test_agrees_rounds_as_shown():
    assert _agrees("98.06", 0.9805510534846029) and _agrees("96.8", 0.968) and not _agrees("98.1", 0.9805)
