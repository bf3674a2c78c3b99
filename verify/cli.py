"""Command line of the verifier: ``python -m verify``.

Exit status: 0 when every selected claim agrees, 1 when one disagrees (the shrunk
counterexample and a command that reruns it are printed), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verify import registry
from verify.claim import Outcome
from verify.figures import (
    SIZES,
    MissingExtraError,
    all_figures,
    plot,
    require_matplotlib,
    write_numbers,
)
from verify.profiles import ENV_VAR, PROFILES, get_profile
from verify.runner import evaluate

EXAMPLES = """\
examples:
  python -m verify                          every claim, profile quick (seed 0), all cores
  python -m verify --list                   each claim's statement, source and oracle tier
  python -m verify L1 L3-expected-risk      claims by name or prefix (also shell patterns: 'D*')
  python -m verify --profile thorough       20x the examples and larger sizes
  python -m verify --jobs 1 --seed 7        sequential, another seed
  python -m verify --report out/            also write out/report.json and out/report.md
  python -m verify --profile thorough --scheduler local --report out/
                                            a Dask LocalCluster runs the claims
  python -m verify --scheduler tcp://10.0.0.5:8786
                                            an existing Dask scheduler runs them
  python -m verify reproduce L1-gd-limit --setting '{"d": 4, ...}'
                                            rerun exactly one setting (printed on failure)
  python -m verify reproduce --report out/report.json
                                            rerun every failing setting of a report
  python -m verify explore --report out/    where the theorems stop holding
  python -m verify figures --out figures/   the paper's figures, theory and training
  python -m verify power --first-kill       the verifier's power: the mutant catalogue
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verify",
        description="Check the closed forms of 'A Theoretical Analysis of Fine-tuning with "
        "Linear Teachers' (symbolic package) against training (numeric package) on "
        "Hypothesis-drawn settings. Subcommands: reproduce, explore, figures, power "
        "(python -m verify SUBCOMMAND --help).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "claims",
        nargs="*",
        metavar="CLAIM",
        help="claim names, prefixes or shell patterns, e.g. 'L1' or 'D*' (default: all; "
        "see --list)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="list the claims (statement, source, oracle tier, tolerance) and exit. "
        "Example: --list",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=None,
        help=f"search effort (default: ${ENV_VAR}, else 'quick'): "
        + "; ".join(f"{p.name}: {p.description}" for p in PROFILES.values())
        + ". Example: --profile standard",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="Hypothesis seed of every claim (default 0; the 'dev' profile draws one). "
        "Example: --seed 7",
    )
    parser.add_argument(
        "--max-examples",
        type=_positive_int,
        default=None,
        help="examples per claim, overriding the profile's budget. Example: --max-examples 5",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="claims run in parallel in this many local processes (default: the number of "
        "CPUs; 1 runs in this process). With --scheduler local: the number of Dask workers. "
        "Example: --jobs 1",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="hand the claims to Dask distributed instead of local processes: 'local' starts "
        "a LocalCluster, anything else is a scheduler address (needs the dask extra). "
        "Example: --scheduler local",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/report.json (machine-readable) and DIR/report.md (with PNG figures "
        "when matplotlib is installed). Example: --report out/",
    )
    parser.add_argument(
        "--explore",
        action="store_true",
        help="also run the explorations (see 'python -m verify explore --help') and put their "
        "curves in the report",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no live progress on stderr (it is a single updating line on a terminal, one "
        "line per finished claim otherwise). Example: --no-progress",
    )
    return parser


def _list_claims() -> int:
    for claim in registry.all_claims():
        print(f"{claim.name}  [tier {int(claim.oracle)}: {claim.oracle.label}]  ({claim.source})")
        print(textwrap.indent(textwrap.fill(claim.statement, 88), "    "))
        print(
            textwrap.indent(textwrap.fill("tolerance: " + claim.tolerance.describe(), 88), "    ")
        )
        if claim.domain:
            print(textwrap.indent(textwrap.fill("searched domain: " + claim.domain, 88), "    "))
        if claim.power:
            print(textwrap.indent(textwrap.fill("power: " + claim.power, 88), "    "))
    return 0


def _run(argv: Sequence[str]) -> int:
    from verify.campaign import run_campaign
    from verify.report import (
        format_record,
        format_record_failure,
        report_document,
        run_metadata,
        write_report,
    )

    args = _run_parser().parse_args(argv)
    if args.list:
        return _list_claims()
    try:
        profile = get_profile(args.profile)
        claims = registry.select(args.claims)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seed = profile.seed(args.seed)
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else f"{args.jobs} process(es)"
    print(
        f"verify: profile {profile.name}, seed {seed}, {len(claims)} claims on {where}",
        flush=True,
    )
    start = time.perf_counter()
    try:
        records = run_campaign(
            [c.name for c in claims],
            profile.name,
            seed,
            max_examples=args.max_examples,
            jobs=args.jobs,
            scheduler=args.scheduler,
            display=not args.no_progress,
        )
    except (RuntimeError, OSError) as exc:  # e.g. the dask extra is missing, no scheduler
        print(f"error: {exc}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - start
    for rec in records:
        print(format_record(rec))
    failed = [r for r in records if not r.passed]
    print(
        f"{len(records) - len(failed)}/{len(records)} claims agree; "
        f"{sum(r.examples for r in records)} examples in {wall:.1f}s wall "
        f"({sum(r.seconds for r in records):.1f}s of claim time)"
    )
    for rec in failed:
        print(format_record_failure(rec))
    if args.report is not None:
        explore = _explorations([], "quick", seed) if args.explore else []
        meta = run_metadata(profile.name, seed, args.jobs, args.scheduler, list(argv))
        paths = write_report(report_document(meta, records, explore), args.report)
        print(f"report: {', '.join(str(p) for p in paths[:2])} (+{len(paths) - 2} figures)")
    return 1 if failed else 0


# --------------------------------------------------------------------------------------
# reproduce
# --------------------------------------------------------------------------------------


def _reproduce_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verify reproduce",
        description="Rerun exactly one setting of a claim (as printed by a failing run), or "
        "every failing setting recorded in a report.json.",
        epilog="examples:\n  python -m verify reproduce L1-gd-limit --setting '{\"d\": 4, ...}'\n"
        "  python -m verify reproduce --report out/report.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("claim", nargs="?", help="exact claim name (with --setting)")
    parser.add_argument("--setting", help="the setting as JSON")
    parser.add_argument(
        "--report",
        type=Path,
        help="a report.json: rerun its failing settings (optionally of CLAIM only)",
    )
    return parser


def _print_outcome(name: str, setting_json: str, outcome: Outcome) -> None:
    status = "PASS" if outcome.passed else "FAIL"
    print(f"{status}  {name}  setting {setting_json}")
    print(
        f"  symbolic = {outcome.symbolic:.12g}, numeric = {outcome.numeric:.12g}, "
        f"error = {outcome.error:.3g}, threshold = {outcome.threshold:.3g}"
    )
    if outcome.note:
        print(f"  note: {outcome.note}")


def _reproduce(argv: Sequence[str]) -> int:
    args = _reproduce_parser().parse_args(argv)
    jobs: list[tuple[str, str]] = []
    try:
        if args.report is not None:
            doc = json.loads(args.report.read_text())
            for claim in doc["claims"]:
                if (
                    not claim["passed"]
                    and claim.get("failing")
                    and args.claim in (None, claim["name"])
                ):
                    jobs.append(
                        (claim["name"], json.dumps(claim["failing"]["setting"], sort_keys=True))
                    )
            if not jobs:
                print(
                    f"no failing settings in {args.report}"
                    + (f" for {args.claim}" if args.claim else "")
                )
                return 0
        elif args.claim and args.setting:
            jobs.append((args.claim, args.setting))
        else:
            print("error: give CLAIM --setting JSON, or --report report.json", file=sys.stderr)
            return 2
        parsed = [(registry.get(name), text) for name, text in jobs]
        settings = [(claim, text, claim.setting_from_json(text)) for claim, text in parsed]
    except (ValueError, TypeError, KeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for claim, text, setting in settings:
        outcome = evaluate(claim, setting)
        _print_outcome(claim.name, text, outcome)
        status = status or (0 if outcome.passed else 1)
    return status


# --------------------------------------------------------------------------------------
# explore
# --------------------------------------------------------------------------------------


def _explorations(names: list[str], size: str, seed: int) -> list[dict[str, Any]]:
    from verify.explore import run_explorations

    return run_explorations(names, size, seed)  # type: ignore[arg-type]


def _explore_parser() -> argparse.ArgumentParser:
    from verify.explore import EXPLORATIONS

    parser = argparse.ArgumentParser(
        prog="python -m verify explore",
        description="Relax one hypothesis at a time and measure how far training drifts from "
        "the closed form (nothing fails; the curves are the result). Explorations: "
        + "; ".join(f"{k}: {v[0]}" for k, v in EXPLORATIONS.items()),
        epilog="examples:\n  python -m verify explore\n"
        "  python -m verify explore width step-size --size full\n"
        "  python -m verify explore --report out/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="explorations (default: all)")
    parser.add_argument(
        "--size", choices=SIZES, default="quick", help="tiny, quick (default) or full"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data (default 0)")
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="DIR",
        help="write the curves into DIR/report.*",
    )
    return parser


def _explore(argv: Sequence[str]) -> int:
    from verify.report import report_document, run_metadata, write_report

    args = _explore_parser().parse_args(argv)
    try:
        results = _explorations(list(args.names), args.size, args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for item in results:
        print(f"{item['name']}: {item['title']} (relaxed: {item['relaxed']})")
        for x, y in zip(item["x"], item["y"], strict=True):
            print(f"    {item['xlabel']} = {x:<10.4g} {item['ylabel']} = {y:.3g}")
        print(textwrap.indent(textwrap.fill(item["summary"], 88), "  "))
    if args.report is not None:
        meta = run_metadata("explore", args.seed, 1, None, ["explore", *argv])
        paths = write_report(report_document(meta, [], results), args.report)
        print(f"report: {', '.join(str(p) for p in paths[:2])}")
    return 0


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------


def _figures_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verify figures",
        description="Reproduce the paper's figures: theory curves (symbolic side) and trained "
        "points (numeric side) on the same axes. Writes NAME.png, NAME.json and NAME.csv.",
        epilog="examples:\n  python -m verify figures --out figures/\n"
        "  python -m verify figures depth --size full --out figures/\n"
        "  python -m verify figures --scheduler local --size full --out figures/\n"
        "  python -m verify figures --list",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="figures to build (default: all)")
    parser.add_argument(
        "--out", type=Path, default=Path("figures"), help="output folder (default: figures)"
    )
    parser.add_argument(
        "--size",
        choices=SIZES,
        default="quick",
        help="tiny (seconds, for tests), quick (default, all figures in about a minute), "
        "full (publication quality, minutes)",
    )
    parser.add_argument(
        "--numbers-only", action="store_true", help="write JSON/CSV only (no matplotlib needed)"
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="build figures in parallel in this many local processes (default: the number of "
        "CPUs). Example: --jobs 1",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="build the figures as Dask tasks ('local' for a LocalCluster, or an address). "
        "Example: --scheduler local",
    )
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    return parser


def _build_figure(name: str, size: str) -> Any:
    return all_figures()[name].build(size)  # type: ignore[arg-type]


def _figures(argv: Sequence[str]) -> int:
    args = _figures_parser().parse_args(argv)
    specs = all_figures()
    if args.list:
        for spec in specs.values():
            print(f"{spec.name}: {spec.description}")
        return 0
    unknown = [name for name in args.names if name not in specs]
    if unknown:
        print(
            f"error: unknown figure(s) {unknown}; valid names: {', '.join(specs)}", file=sys.stderr
        )
        return 2
    if not args.numbers_only:
        try:
            require_matplotlib()
        except MissingExtraError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    names = list(args.names) or list(specs)
    start = time.perf_counter()
    try:
        built = _build_all(names, args.size, args.scheduler, args.jobs)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in names:
        data = built[name]
        paths = write_numbers(data, args.out)
        if not args.numbers_only:
            paths.append(plot(data, args.out))
        summary = ", ".join(f"{k}={_fmt(v)}" for k, v in data.summary.items())
        print(f"{name}: {' '.join(str(p) for p in paths)}")
        if summary:
            print(f"  {summary}")
    print(f"{len(names)} figure(s) in {time.perf_counter() - start:.1f}s")
    return 0


def _build_all(names: list[str], size: str, scheduler: str | None, jobs: int) -> dict[str, Any]:
    if scheduler is None and (jobs <= 1 or len(names) <= 1):
        return {name: _build_figure(name, size) for name in names}
    if scheduler is None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(names)), mp_context=ctx) as pool:
            futures = {name: pool.submit(_build_figure, name, size) for name in names}
            return {name: fut.result() for name, fut in futures.items()}
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise RuntimeError(
            "--scheduler needs Dask distributed: pip install 'finetune-theory[dask]'"
        ) from exc
    cluster = (
        LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1, dashboard_address=":0")
        if scheduler == "local"
        else None
    )
    client = Client(cluster if cluster is not None else scheduler)
    try:
        futures = {name: client.submit(_build_figure, name, size, pure=False) for name in names}
        return {name: fut.result() for name, fut in futures.items()}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------------------
# power
# --------------------------------------------------------------------------------------


def _power_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verify power",
        description="Measure the verifier's power: apply each mutant of the built-in catalogue "
        "(realistic one-line bugs in symbolic/ and numeric/) to a temporary copy of the "
        "packages, run the claims against it and report which claims caught it and the kill "
        "rate per module. Slow: every mutant runs the claims (about a minute each on 2 cores); "
        "--first-kill stops a mutant at its first catching claim.",
        epilog="examples:\n  python -m verify power --list\n"
        "  python -m verify power --first-kill --report out/\n"
        "  python -m verify power L3- symbolic.relu_ntk --first-kill\n"
        "  python -m verify power L-expected-variance-dof --claims L3-expected-risk",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "mutants",
        nargs="*",
        metavar="MUTANT",
        help="mutant names, name prefixes or module names such as symbolic.linear "
        "(default: the whole catalogue; see --list)",
    )
    parser.add_argument("--list", action="store_true", help="list the catalogue and exit")
    parser.add_argument(
        "--claims",
        nargs="+",
        default=[],
        metavar="CLAIM",
        help="run only these claims (names, prefixes or patterns; default: all)",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="quick",
        help="the claims' profile inside each mutant run (default quick: the power of "
        "'python -m verify' itself)",
    )
    parser.add_argument(
        "--first-kill",
        action="store_true",
        help="stop a mutant at the first claim that catches it (its expected catchers first)",
    )
    parser.add_argument(
        "--jobs",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="mutants run in parallel (default: the number of CPUs)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds allowed per mutant (default 900)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/power.json and DIR/power.md",
    )
    return parser


def _power(argv: Sequence[str]) -> int:
    from verify import power

    args = _power_parser().parse_args(argv)
    try:
        mutants = power.select_mutants(args.mutants)
        claims = [c.name for c in registry.select(args.claims)]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for m in mutants:
            flag = " [planted]" if m.planted else ""
            print(f"{m.name}  ({m.path}){flag}")
            print(textwrap.indent(textwrap.fill(m.description, 88), "    "))
            if m.equivalent:
                print(textwrap.indent(textwrap.fill("equivalent: " + m.equivalent, 88), "    "))
        print(f"{len(mutants)} mutants")
        return 0
    timeout = args.timeout if args.timeout is not None else power.DEFAULT_TIMEOUT
    print(
        f"verify power: {len(mutants)} mutants x {len(claims)} claims, profile {args.profile}"
        f"{', first kill' if args.first_kill else ''}, {args.jobs} at a time",
        flush=True,
    )
    start = time.perf_counter()

    def show(done: int, result: Any) -> None:
        print(f"[{done}/{len(mutants)}] {power.format_result(result)}", flush=True)

    results = power.run_catalogue(
        mutants,
        claims,
        profile=args.profile,
        first_kill=args.first_kill,
        jobs=args.jobs,
        timeout=timeout,
        on_result=show,
    )
    meta = {
        "profile": args.profile,
        "first_kill": args.first_kill,
        "claims": claims,
        "argv": list(argv),
        "seconds": round(time.perf_counter() - start, 1),
    }
    doc = power.power_document(results, meta)
    print()
    for module, rate in doc["modules"].items():
        print(f"{module:<24} {rate['killed']}/{rate['total']} killed ({rate['rate']:.0%})")
    print(
        f"kill rate {doc['killed']}/{doc['total']} = {doc['kill_rate']:.1%} "
        f"(target {power.TARGET_KILL_RATE:.0%}) in {meta['seconds']}s"
    )
    for r in results:
        if not r.killed:
            reason = r.mutant.equivalent or r.mutant.known_gap or "no claim caught it"
            print(f"  survivor {r.mutant.name}: {reason} [{r.status}]")
    if args.report is not None:
        args.report.mkdir(parents=True, exist_ok=True)
        (args.report / "power.json").write_text(json.dumps(doc, indent=2) + "\n")
        (args.report / "power.md").write_text(power.format_markdown(doc))
        print(f"report: {args.report / 'power.json'}, {args.report / 'power.md'}")
    errors = [r for r in results if r.status == "error"]
    return 2 if errors else 0


# --------------------------------------------------------------------------------------


SUBCOMMANDS = {
    "reproduce": _reproduce,
    "explore": _explore,
    "figures": _figures,
    "power": _power,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status instead of calling sys.exit."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    handler = SUBCOMMANDS.get(args_list[0]) if args_list else None
    try:
        if handler is not None:
            return handler(args_list[1:])
        return _run(args_list)
    except SystemExit as exc:  # argparse: --help exits 0, usage errors exit 2
        return int(exc.code) if isinstance(exc.code, int) else 2
