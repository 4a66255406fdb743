#!/usr/bin/env bash
# Optional environment for `neuroplast bench cpu-lif`: torch 2.14.1 + the peer SNN libraries + neuroplast.
#
#   bash benchmarks/setup_peers.sh [VENV_DIR]        # default VENV_DIR: /tmp/neuroplast-peers
#   VENV_DIR/bin/neuroplast bench cpu-lif            # then run the benchmark there
#
# Pinned versions (what PyPI serves; checked with `pip index versions --pre NAME`):
#   torch 2.14.1, torchvision 0.29.1 (its pair; 0.29.0 pins torch==2.14.0)
#   snntorch 1.0.0         (snntorch.Leaky, snntorch.RLeaky(all_to_all=False))
#   spikingjelly 2.0.0     (a final release on PyPI, not a pre-release; the old line ends at 0.0.0.0.14)
#   norse 1.1.0            (an sdist; built locally, pure Python)
# spikingjelly 2.0.0 also requires torchaudio; the newest on PyPI is 2.11.0, which declares no torch pin, so pip
# installs it beside torch 2.14.1. Its binary extension is built for torch 2.11, but spikingjelly imports it only in
# its speech-commands dataset, which the benchmark does not touch.
# A constraints file pins torch for every step, so no peer (and not neuroplast's own `torch>=2.13`) can replace it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-/tmp/neuroplast-peers}"
PY="${PYTHON:-python3}"

TORCH=2.14.1
TORCHVISION=0.29.1
SNNTORCH=1.0.0
SPIKINGJELLY=2.0.0
NORSE=1.1.0

echo "== venv $VENV (root $ROOT)"
"$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip)
CONSTRAINTS="$VENV/constraints-peers.txt"
printf 'torch==%s\ntorchvision==%s\n' "$TORCH" "$TORCHVISION" > "$CONSTRAINTS"
export PIP_CONSTRAINT="$CONSTRAINTS"

"${PIP[@]}" install --upgrade pip setuptools wheel
echo "== torch $TORCH"
"${PIP[@]}" install "torch==$TORCH" "torchvision==$TORCHVISION"
echo "== peers"
"${PIP[@]}" install "snntorch==$SNNTORCH" "spikingjelly==$SPIKINGJELLY" "norse==$NORSE"
echo "== neuroplast (editable, torch kept)"
"${PIP[@]}" install -e "$ROOT"

"$VENV/bin/python" - <<'EOF'
import importlib
import torch
print("torch", torch.__version__)
assert torch.__version__.split("+")[0] == "2.14.1", torch.__version__
for name in ("snntorch", "spikingjelly", "norse", "neuroplast"):
    try:
        mod = importlib.import_module(name)
        try:
            from importlib.metadata import version
            v = version(name)
        except Exception:
            v = getattr(mod, "__version__", "?")
        print(name, v)
    except Exception as exc:  # report, do not fail: the benchmark skips what does not import
        print(name, "NOT IMPORTABLE:", type(exc).__name__, exc)
EOF
echo "== done; run: $VENV/bin/neuroplast bench cpu-lif"
