"""Docs that run: every ```python block of the guides executes, every config in configs/ validates, and each
guide's YAML config reference validates and names every model and learning key the config models have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from neuroplast.config import METHODS, load_config

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


def blocks(path: Path, lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(path.read_text()) if kind == lang]


PY_BLOCKS = [pytest.param(doc, k, id=f"{doc.name}#{k}") for doc in DOCS for k in range(len(blocks(doc, "python")))]


@pytest.mark.parametrize("doc, k", PY_BLOCKS)
def test_python_examples_run(doc, k, monkeypatch, tmp_path):
    """Mark a block that must not run as ```text (or any other language); ```python blocks are executed."""
    monkeypatch.setenv("NEUROPLAST_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    code = blocks(doc, "python")[k]
    exec(compile(code, f"{doc.name}[python block {k}]", "exec"), {"__name__": f"docs_{doc.stem}_{k}"})


def test_there_are_examples():
    assert len(PY_BLOCKS) >= 6


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_configs_validate(path):
    data = yaml.safe_load(path.read_text())
    data.pop("ablation", None)  # the ablation runner's own section; the rest is a run config
    load_config(data=data)


@pytest.mark.parametrize("guide, method", [("guide-sstdp.md", "sstdp"), ("guide-scsr.md", "scsr")])
def test_config_reference_matches_models(guide, method):
    refs = [yaml.safe_load(b) for b in blocks(ROOT / "docs" / guide, "yaml")]
    refs = [r for r in refs if isinstance(r, dict) and r.get("method") == method]
    assert len(refs) == 1, f"{guide} needs one ```yaml config reference with method: {method}"
    ref = refs[0]
    cfg = load_config(data=ref)
    assert cfg.method == method
    cls = METHODS[method]
    for section in ("data", "model", "learning"):
        model_cls = cls.model_fields[section].annotation
        missing = set(model_cls.model_fields) - set(ref.get(section, {}))
        assert not missing, f"{guide}: config reference lacks {section}.{sorted(missing)}"
