"""``neuroplast train|resume|eval|plot|bench ...``: one config-driven entry point; user errors print one line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from neuroplast.errors import NeuroplastError


def _cmd_train(args):
    from neuroplast.config import load_config
    from neuroplast.train.trainer import train

    cfg = load_config(args.config, args.set or [])
    if args.out:
        cfg.train.out_dir = args.out
    out = cfg.out_dir()
    if (out / "checkpoint.pt").exists() and not args.force:
        raise NeuroplastError(f"{out} already holds a run; use `neuroplast resume {out}` to continue it, "
                              "--out DIR for a new folder, or --force to overwrite")
    metrics = train(cfg)
    print(json.dumps(metrics))


def _cmd_resume(args):
    from neuroplast.train.checkpoint import checkpoint_config, load_checkpoint
    from neuroplast.train.trainer import train

    result = Path(args.result_dir)
    ckpt_path = result / "checkpoint.pt"
    if not result.is_dir():
        raise NeuroplastError(f"nothing to resume: result folder {str(result)!r} does not exist")
    if not ckpt_path.exists():
        how = (f"start it again with `neuroplast train {result / 'config.yaml'} --out {result}`"
               if (result / "config.yaml").is_file() else "start it again with `neuroplast train`")
        raise NeuroplastError(f"nothing to resume in {str(result)!r}: no checkpoint yet (the run stopped before its "
                              f"first epoch ended); {how}")
    cfg = checkpoint_config(load_checkpoint(ckpt_path), ckpt_path)
    cfg.train.out_dir = str(args.result_dir)
    cfg.train.stop_after = None
    print(json.dumps(train(cfg, resume_from=ckpt_path)))


def _cmd_eval(args):
    from neuroplast.train.trainer import evaluate_result

    print(json.dumps(evaluate_result(Path(args.result_dir))))


def _cmd_bench(args):
    if args.what == "sstdp":
        from neuroplast.bench.sstdp_speed import main as bench_main
    else:
        raise NeuroplastError(f"unknown benchmark {args.what!r}; allowed: sstdp")
    bench_main(args.rest)


def _cmd_plot(args):
    from neuroplast.plots import plot_result

    for path in plot_result(Path(args.result_dir)):
        print(path)


def _cmd_ablate(args):
    from neuroplast.train.ablation import main as ablate_main

    ablate_main([args.config] + (["--out", args.out] if args.out else []))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuroplast", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train from a YAML config")
    p.add_argument("config")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value, e.g. learning.epochs=5")
    p.add_argument("--out", help="result folder (default results/<name>)")
    p.add_argument("--force", action="store_true", help="overwrite an existing run in the result folder")
    p.set_defaults(func=_cmd_train)
    p = sub.add_parser("resume", help="continue a killed or stopped run from its last checkpoint")
    p.add_argument("result_dir")
    p.set_defaults(func=_cmd_resume)
    p = sub.add_parser("eval", help="reload a result's checkpoint and print its test metrics as one JSON line")
    p.add_argument("result_dir")
    p.set_defaults(func=_cmd_eval)
    p = sub.add_parser("ablate", help="run an ablation table (rows x seeds x splits) from one config")
    p.add_argument("config")
    p.add_argument("--out", help="result folder (default results/<name>)")
    p.set_defaults(func=_cmd_ablate)
    p = sub.add_parser("plot", help="write a result folder's pictures as PNG")
    p.add_argument("result_dir")
    p.set_defaults(func=_cmd_plot)
    p = sub.add_parser("bench", help="speed benchmarks")
    p.add_argument("what", choices=["sstdp"])
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except NeuroplastError as exc:
        print(f"neuroplast: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neuroplast: interrupted; `neuroplast resume RESULT_DIR` continues from the last checkpoint",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
