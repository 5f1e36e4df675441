"""Commands for a small training set someone brings: score it, or export one of a run's sets in the same
file format."""

from __future__ import annotations

import argparse
from pathlib import Path

from gtnbench.cli.common import (
    Subparsers,
    err_console,
)
from gtnbench.errors import StoreError
from gtnbench.output import print_line


def add_score(sub: Subparsers) -> None:
    p = sub.add_parser(
        "score",
        help="score a small training set you bring, beside a random subset, a k-means coreset and tuned real data",
        description="SET is a .pt or .npz file (the README's 'Score your own set'): images [N, C, H, "
        "W] normalised like the data set, int labels [N] or soft labels [N, classes], optional "
        "per-image learning rates. A bad file is refused in one line and nothing is written. The set "
        "is scored under (a) equal steps with the GTN's budget, (b) the tuned recipe and (b) the "
        "DC/DM reference recipe, beside a random real subset and a k-means coreset of the same "
        "images per class and the tuned real-data learner at the same steps, over the teachers "
        "suite's seeds; on CIFAR-10 also (c) as a NAS-Bench-201 proxy. The result is a run "
        "directory: gtnbench report, check, compare, export and validate work on it.",
    )
    p.add_argument("set", help="the set file (.pt or .npz)")
    p.add_argument(
        "--dataset",
        required=True,
        choices=("mnist", "cifar10"),
        help="the data set the set is for (cifar10 falls back to the JPEG copy, labelled as such)",
    )
    p.add_argument(
        "--scale",
        choices=("smoke", "quick", "paper"),
        default="smoke",
        help="the teachers suites' scale: smoke (a CPU, minutes), quick (one GPU), paper (default smoke)",
    )
    p.add_argument(
        "--suite",
        help="take the learner, seeds and protocols from this teachers suite (default: "
        "mnist-teachers or cifar10-teachers)",
    )
    p.add_argument("--seeds", type=int, nargs="+", help="seeds (default: the suite's at the scale)")
    p.add_argument("--no-nas", action="store_true", help="CIFAR-10: skip (c), the NAS-Bench-201 proxies")
    p.add_argument("--device", help="torch device (default: cuda if available)")
    p.add_argument(
        "--threads",
        metavar="N|auto|torch",
        help="torch CPU threads, as for `gtnbench run` (default: $GTNBENCH_THREADS, else 1)",
    )
    p.add_argument("--data-root", help="data folder (default: $GTNBENCH_DATA, else ~/.cache/gtnbench/data)")
    p.add_argument("--out", help="run directory (default: runs/score-<file>-<scale>-<date>-<time>)")
    p.set_defaults(func=cmd_score)


def cmd_score(args: argparse.Namespace) -> int:
    """Score a brought set (gtnbench/suite/score.py): check the file, generate the suite, run it."""
    from gtnbench.data.datasets import load_dataset
    from gtnbench.data.paths import resolve_data_root
    from gtnbench.data.set_file import read_set_file
    from gtnbench.device import check_device
    from gtnbench.environment import default_device
    from gtnbench.report.teachers import small_sets_markdown
    from gtnbench.run.runner import run_suite
    from gtnbench.store import read_run
    from gtnbench.suite.score import score_suite
    from gtnbench.threads import set_threads

    device = check_device(args.device or default_device())
    set_threads(args.threads)
    data_root = resolve_data_root(args.data_root)
    path = Path(args.set)
    brought = read_set_file(path, load_dataset(args.dataset, data_root, device))
    suite = score_suite(path, brought, args.dataset, args.scale, args.suite, not args.no_nas, args.seeds)
    try:
        summary = run_suite(
            suite, args.scale, device, data_root, Path(args.out) if args.out else None, console=err_console
        )
    except KeyboardInterrupt:
        print_line(err_console, "interrupted: every finished trial is saved in the run directory")
        return 130
    print_line(
        err_console,
        f"{summary.ok} ok, {summary.failed} failed -> {summary.path}; `gtnbench report "
        f"{summary.path}` writes the tables, the plots and index.html",
    )
    err_console.print(
        small_sets_markdown(read_run(summary.path).records), markup=False, highlight=False, soft_wrap=True
    )
    print(summary.path)
    return 1 if summary.failed else 0


def add_export_set(sub: Subparsers) -> None:
    p = sub.add_parser("export-set", help="write a set a run made to a set file (.pt or .npz), the format score reads")
    p.add_argument("run", help="run directory")
    p.add_argument("method", help="the small-set method that made it (e.g. dm-10)")
    p.add_argument("--seed", type=int, help="which seed's set (default: the first)")
    p.add_argument("--out", required=True, help="the file to write (.pt or .npz)")
    p.set_defaults(func=cmd_export_set)


def cmd_export_set(args: argparse.Namespace) -> int:
    path = export_set(Path(args.run), args.method, args.seed, Path(args.out))
    print_line(err_console, f"wrote the set {args.method} made in {args.run} to {path}")
    return 0


def export_set(run: Path, method: str, seed: int | None, out: Path) -> Path:
    """The set `method` made in `run` for `seed` (default: the run's first seed), in the set file format, with
    what the run recorded about it (method, DSA transforms, data set, seed, seconds, FLOPs, device)."""
    from gtnbench.data.image_set import load_image_set
    from gtnbench.data.set_file import write_set_file
    from gtnbench.errors import DataError
    from gtnbench.store import read_run

    contents = read_run(run)
    makers = [
        r
        for r in contents.records
        if r["method"] == method and r["status"] == "ok" and "make_seconds" in r.get("metrics", {})
    ]
    if not makers:
        methods = sorted({r["method"] for r in contents.records if "make_seconds" in r.get("metrics", {})})
        raise StoreError(f"{run}: no set made by {method!r}; the sets of this run: {', '.join(methods) or 'none'}")
    seeds = sorted({r["seed"] for r in makers})
    chosen = seeds[0] if seed is None else seed
    record = next((r for r in makers if r["seed"] == chosen), None)
    if record is None:
        raise StoreError(f"{run}: {method} made no set with seed {chosen}; its seeds: {', '.join(map(str, seeds))}")
    try:
        image_set = load_image_set(run / record["details"]["set"]["file"])
    except DataError as error:
        raise StoreError(str(error)) from None
    config = record["details"].get("set_config", {})
    cost = record["details"].get("cost", {})
    declared = {
        "method": image_set.method,
        "dataset": image_set.dataset,
        "seed": int(image_set.seed),
        "dsa": list(config.get("dsa") or []) or None,
        "seconds": cost.get("seconds"),
        "flops": cost.get("flops"),
        "device": record.get("device_name"),
        "name": f"{run.name}/{record['trial']}",
    }
    return write_set_file(image_set, out, declared)
