"""``neuroplast train|resume|eval|vote|plot|export|data|bench ...``: one config-driven entry point; user errors print
one line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from neuroplast.allocator import keep_freed_memory
from neuroplast.errors import NeuroplastError


def _cmd_train(args):
    from neuroplast.config import load_config
    from neuroplast.train.trainer import train

    cfg = load_config(args.config, args.set or [])
    if args.out:
        cfg.train.out_dir = args.out
    out = cfg.out_dir()
    _check_out_folder(out)
    if (out / "checkpoint.pt").exists() and not args.force:
        raise NeuroplastError(f"{out} already holds a run; use `neuroplast resume {out}` to continue it, "
                              "--out DIR for a new folder, or --force to overwrite")
    if args.nproc != 1:
        from neuroplast.train.distributed import launch

        metrics = launch(cfg, args.nproc)
    else:
        metrics = train(cfg)
    from neuroplast.train.distributed import is_main_process

    if is_main_process():
        print(json.dumps(metrics))


def _check_out_folder(out: Path):
    """A result folder path whose own name or a parent is a file would fail at the first write, after data loading."""
    for p in (out, *out.parents):
        if p.exists():
            if not p.is_dir():
                what = f"{str(out)!r} is a file" if p == out else f"{str(p)!r}, on the way to {str(out)!r}, is a file"
                raise NeuroplastError(f"--out must be a folder, but {what}; give a new or existing folder path")
            return


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
    from neuroplast.train.committee import evaluate_committee, is_committee
    from neuroplast.train.trainer import evaluate_result

    if is_committee(Path(args.result_dir)):
        print(json.dumps(evaluate_committee(Path(args.result_dir))))
    else:
        print(json.dumps(evaluate_result(Path(args.result_dir))))


def _cmd_vote(args):
    from neuroplast.train.committee import vote

    _check_out_folder(Path(args.out))
    print(json.dumps(vote(args.members, args.out, args.k, args.force)))


def _cmd_bench(args):
    if args.what == "sstdp":
        from neuroplast.bench.sstdp_speed import main as bench_main
    elif args.what == "cpu-lif":
        from neuroplast.bench.cpu_lif import main as bench_main
    else:
        raise NeuroplastError(f"unknown benchmark {args.what!r}; allowed: sstdp, cpu-lif")
    bench_main(args.rest)


def _not_a_committee(result_dir: Path, what: str):
    from neuroplast.train.committee import is_committee

    if is_committee(result_dir):
        raise NeuroplastError(f"{str(result_dir)!r} is a committee (`neuroplast vote`), which keeps no network of its "
                              f"own to {what}; {what} its members (listed in its committee.json) one by one")


def _cmd_plot(args):
    from neuroplast.plots import plot_result

    _not_a_committee(Path(args.result_dir), "plot")
    for path in plot_result(Path(args.result_dir)):
        print(path)


def _cmd_export(args):
    from neuroplast.export.nir_export import export_result

    if args.out and Path(args.out).is_dir():
        raise NeuroplastError(f"--out is the NIR file to write, but {args.out!r} is a folder; give a file path, "
                              f"e.g. --out {Path(args.out) / 'model.nir'}")
    _not_a_committee(Path(args.result_dir), "export")
    print(export_result(Path(args.result_dir), args.out, dt=args.dt, form=args.form))


def _cmd_data(args):
    from neuroplast.data import catalog

    if args.action == "list":
        for d in catalog.DATASETS.values():
            get = "download" if d.downloadable else "by hand"
            print(f"{d.name:<14} {catalog.status(d.name, args.root):<8} {get:<9} {d.description}")
        return
    if args.action == "download":
        if not args.name:
            raise NeuroplastError("`neuroplast data download` needs a dataset name; see `neuroplast data list`")
        reports = [catalog.download(args.name, args.root, force=args.force)]
    else:
        names = [args.name] if args.name else [d.name for d in catalog.DATASETS.values()
                                              if catalog.status(d.name, args.root) != "missing"]
        if not names:
            raise NeuroplastError(_no_datasets(args.root))
        reports = [catalog.verify(n, args.root) for n in names]
    for report in reports:
        print(f"{report['name']}: {'ok' if report['ok'] else 'FAILED'} ({report['root']})")
        for c in report["checks"]:
            mark = "ok  " if c["ok"] else ("warn" if c["optional"] else "FAIL")
            print(f"  {mark} {c['item']}: {c['detail']}")
    bad = [r["name"] for r in reports if not r["ok"]]
    if bad:
        raise NeuroplastError(f"verification failed for {', '.join(bad)}")


def _no_datasets(root) -> str:
    """Verifying nothing is not a pass: say where the data root was looked for, and how to point elsewhere."""
    from neuroplast.settings import data_root

    base = data_root(root, must_exist=False)
    source = ("--root" if root else "$NEUROPLAST_DATA" if os.environ.get("NEUROPLAST_DATA")
              else "the default; $NEUROPLAST_DATA is not set")
    state = "does not exist" if not base.is_dir() else "holds no known dataset folder"
    return (f"nothing to verify: the data root {str(base)!r} ({source}) {state}; point --root or NEUROPLAST_DATA "
            "at the folder holding mnist/, fsdd/, ..., or fetch one with `neuroplast data download NAME`")


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
    p.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="data-parallel on N local processes (gloo); learning.batch_size stays the global batch")
    p.set_defaults(func=_cmd_train)
    p = sub.add_parser("resume", help="continue a killed or stopped run from its last checkpoint")
    p.add_argument("result_dir")
    p.set_defaults(func=_cmd_resume)
    p = sub.add_parser("eval", help="reload a result's checkpoint and print its test metrics as one JSON line")
    p.add_argument("result_dir")
    p.set_defaults(func=_cmd_eval)
    p = sub.add_parser("vote", help="score trained SSTDP runs as one committee: a class fires when k of its "
                                    "members' output neurons have")
    p.add_argument("members", nargs="+", metavar="RESULT_DIR")
    p.add_argument("--out", required=True, help="committee folder (committee.json, metrics.json)")
    p.add_argument("--k", type=int, help="votes a class needs (default: a majority of the members)")
    p.add_argument("--force", action="store_true", help="replace a result already in --out")
    p.set_defaults(func=_cmd_vote)
    p = sub.add_parser("ablate", help="run an ablation table (rows x seeds x splits) from one config")
    p.add_argument("config")
    p.add_argument("--out", help="result folder (default results/<name>)")
    p.set_defaults(func=_cmd_ablate)
    p = sub.add_parser("plot", help="write a result folder's pictures as PNG")
    p.add_argument("result_dir")
    p.set_defaults(func=_cmd_plot)
    p = sub.add_parser("export", help="write a result's trained model as a NIR graph")
    p.add_argument("result_dir")
    p.add_argument("--format", choices=["nir"], default="nir", help="exchange format (NIR, neuroir.org)")
    p.add_argument("--out", help="output file (default RESULT_DIR/model.nir)")
    p.add_argument("--dt", type=float, default=1e-4, help="seconds per simulation step in the NIR graph")
    p.add_argument("--form", choices=["auto", "lif", "cubalif"], default="auto",
                   help="ScSr neurons as LIF + LI trace nodes, or CubaLIF where exact (auto: CubaLIF when exact)")
    p.set_defaults(func=_cmd_export)
    p = sub.add_parser("data", help="list, verify (checksums) or download the datasets neuroplast knows")
    p.add_argument("action", choices=["list", "verify", "download"])
    p.add_argument("name", nargs="?", help="dataset name (verify: all present ones when left out)")
    p.add_argument("--root", help="data root (default $NEUROPLAST_DATA, else ../shared/data)")
    p.add_argument("--force", action="store_true", help="download even when the files already verify")
    p.set_defaults(func=_cmd_data)
    p = sub.add_parser("bench", help="speed benchmarks")
    p.add_argument("what", choices=["sstdp", "cpu-lif"])
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keep_freed_memory()
    try:
        args.func(args)
        code = 0
    except NeuroplastError as exc:
        print(f"neuroplast: error: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        print("neuroplast: interrupted; `neuroplast resume RESULT_DIR` continues from the last checkpoint",
              file=sys.stderr)
        code = 130
    if _launched_worker():
        _exit_now(code)
    return code


def _launched_worker() -> bool:
    """One of several ranks started by torchrun (or another env:// launcher), not a single process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def _exit_now(code: int):
    """End a launched rank without interpreter teardown. Its results are on disk (written atomically) and its
    process group is destroyed; but gloo's native worker threads can still drop their last tensor reference
    while Python finalises, which aborts the process (``terminate called without an active exception``, about
    three runs in thirty of a torchrun test here under load) and makes the launcher kill the other ranks."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
