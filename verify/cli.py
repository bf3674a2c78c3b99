"""Command line of the verifier: ``python -m verify``.

Exit status: 0 when every selected claim agrees, 1 when one disagrees (the shrunk
counterexample and a command that reruns it are printed), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import platform
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

from finetune_theory import __version__
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
from verify.runner import evaluate, format_failure, format_result, run_claim

EXAMPLES = """\
examples:
  python -m verify                          run every claim (profile quick, seed 0)
  python -m verify --list                   list claims with statement, source and oracle
  python -m verify L1 L3-expected-risk      claims by name or prefix (also shell patterns: 'L*')
  python -m verify --profile thorough       20x more examples per claim
  python -m verify --seed 7 --max-examples 5
  python -m verify reproduce L1-gd-limit --setting '{"d": 4, ...}'
                                            rerun exactly one setting (printed on failure)
  python -m verify figures --out figures/   the paper's figures, theory and training
                                            (see python -m verify figures --help)
"""


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verify",
        description="Check the closed forms of 'A Theoretical Analysis of Fine-tuning with "
        "Linear Teachers' (symbolic package) against gradient-descent training (numeric "
        "package) on Hypothesis-drawn settings.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "claims",
        nargs="*",
        metavar="CLAIM",
        help="claim names, prefixes or patterns (default: all)",
    )
    parser.add_argument("--list", action="store_true", help="list the claims and exit")
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default=None,
        help=f"example budget and randomness (default: ${ENV_VAR} or 'quick'): "
        + "; ".join(f"{p.name}: {p.description}" for p in PROFILES.values()),
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="Hypothesis seed (default 0; 'dev' draws one)"
    )
    parser.add_argument(
        "--max-examples",
        type=_positive_int,
        default=None,
        help="examples per claim, overriding the profile's budget",
    )
    return parser


def _reproduce_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verify reproduce",
        description="Rerun one claim on exactly one setting (as printed by a failing run).",
    )
    parser.add_argument("claim", help="exact claim name")
    parser.add_argument("--setting", required=True, help="the setting as JSON")
    return parser


def _figures_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verify figures",
        description="Reproduce the paper's figures: theory curves (symbolic side) and trained "
        "points (numeric side) on the same axes. Writes NAME.png, NAME.json and NAME.csv.",
        epilog="examples:\n  python -m verify figures --out figures/\n"
        "  python -m verify figures depth --size full --out figures/\n"
        "  python -m verify figures --list",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="figures to build (default: all)")
    parser.add_argument("--out", type=Path, default=Path("figures"), help="output folder")
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
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    return parser


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
    for name in args.names or list(specs):
        start = time.perf_counter()
        data = specs[name].build(args.size)
        paths = write_numbers(data, args.out)
        if not args.numbers_only:
            paths.append(plot(data, args.out))
        summary = ", ".join(f"{k}={_fmt(v)}" for k, v in data.summary.items())
        print(f"{name}: {' '.join(str(p) for p in paths)}  ({time.perf_counter() - start:.1f}s)")
        if summary:
            print(f"  {summary}")
    return 0


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def _list_claims() -> int:
    for claim in registry.all_claims():
        print(f"{claim.name}  [{claim.oracle.label}]  ({claim.source})")
        print(textwrap.indent(textwrap.fill(claim.statement, 88), "    "))
        print(
            textwrap.indent(textwrap.fill("tolerance: " + claim.tolerance.describe(), 88), "    ")
        )
    return 0


def _reproduce(argv: Sequence[str]) -> int:
    args = _reproduce_parser().parse_args(argv)
    try:
        claim = registry.get(args.claim)
        setting = claim.setting_from_json(args.setting)
    except (ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outcome: Outcome = evaluate(claim, setting)
    status = "PASS" if outcome.passed else "FAIL"
    print(f"{status}  {claim.name}  setting {args.setting}")
    print(
        f"  symbolic = {outcome.symbolic:.12g}, numeric = {outcome.numeric:.12g}, "
        f"error = {outcome.error:.3g}, threshold = {outcome.threshold:.3g}"
    )
    if outcome.note:
        print(f"  note: {outcome.note}")
    return 0 if outcome.passed else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status instead of calling sys.exit."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list[:1] == ["reproduce"]:
            return _reproduce(args_list[1:])
        if args_list[:1] == ["figures"]:
            return _figures(args_list[1:])
        args = _run_parser().parse_args(args_list)
    except SystemExit as exc:  # argparse: --help exits 0, usage errors exit 2
        return int(exc.code) if isinstance(exc.code, int) else 2
    if args.list:
        return _list_claims()
    try:
        profile = get_profile(args.profile)
        claims = registry.select(args.claims)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seed = profile.seed(args.seed)
    print(
        f"finetune-theory {__version__} verify: profile {profile.name}, seed {seed}, "
        f"{len(claims)} claims, Python {platform.python_version()}"
    )
    results = []
    for claim in claims:
        result = run_claim(claim, profile, seed=seed, max_examples=args.max_examples)
        results.append(result)
        print(format_result(result), flush=True)
    failed = [r for r in results if not r.passed]
    total = sum(r.seconds for r in results)
    print(f"{len(results) - len(failed)}/{len(results)} claims agree in {total:.1f}s")
    for result in failed:
        print(format_failure(result))
    return 1 if failed else 0
