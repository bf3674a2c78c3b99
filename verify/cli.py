"""Command line of the verifier: ``python -m verify``.

Exit status, the same convention for every subcommand (each ``--help`` lists its cases):

* 0 — everything agrees (campaign, ``reproduce``), or the work was done (``explore``,
  ``figures``, ``power``, ``derivations``);
* 1 — a disagreement: a claim or a reproduced setting disagrees (the shrunk counterexample
  and a command that reruns it are printed); for ``figures``, a figure raised an error
  while it was built (the other figures are written);
* 2 — a usage error or invalid input, reported in one line on stderr: a bad option, an
  output folder that cannot be written (checked before any work starts), a setting that
  breaks its fields' types or its claim's hypotheses, a missing optional extra (for
  ``figures``: after every other figure is written);
* 130 — interrupted by Ctrl-C (SIGINT; 143 for SIGTERM in campaigns): what finished is
  written, marked ``"complete": false``.

Outputs are written atomically under names distinct per run kind (:mod:`verify.outputs`),
so a campaign, an exploration and the figures can share one folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from finetune_theory import __version__
from verify import registry
from verify.claim import Outcome
from verify.figures import (
    SIZES,
    MissingExtraError,
    all_figures,
    build_figure,
    install_command,
    parse_formats,
    plot_files,
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
  python -m verify derivations --out docs/derivations
                                            every derivation as a Markdown page (LaTeX)
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
        "Hypothesis-drawn settings. Subcommands: reproduce, explore, figures, power, derivations "
        "(python -m verify SUBCOMMAND --help). Exit status: 0 every claim agrees, 1 a claim "
        "disagrees, 2 usage error or invalid input, 130 stopped by SIGINT (Ctrl-C), 143 "
        "stopped by SIGTERM (see the end of this help).",
        epilog=EXAMPLES
        + """
exit status:
  0    every selected claim agrees
  1    a claim disagrees (its shrunk setting and a reproduce command are printed)
  2    usage error or invalid input (bad option, unusable --report folder,
       --scheduler neither 'local' nor tcp://host:port, scheduler unreachable)
  130  stopped by SIGINT (Ctrl-C); 143: stopped by SIGTERM. Workers are shut
       down, finished claims are printed and --report DIR holds a partial
       report.json ("complete": false)
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"finetune-theory {__version__}",
        help="print the toolkit's version (shared by symbolic, numeric and verify) and exit",
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
        "a LocalCluster, otherwise a scheduler address tcp://host:port (reached within "
        "a few seconds or exit 2; needs the dask extra). Example: --scheduler local",
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
    from finetune_theory.errors import InputError
    from verify.campaign import Interrupted, check_scheduler, run_campaign
    from verify.outputs import UsageError, prepare_output_dir
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
        if args.scheduler is not None:
            check_scheduler(args.scheduler)
        if args.report is not None:  # before any work: a bad folder costs nothing
            prepare_output_dir(args.report, "--report")
    except (ValueError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seed = profile.seed(args.seed)
    where = f"Dask scheduler {args.scheduler}" if args.scheduler else f"{args.jobs} process(es)"
    print(
        f"verify: profile {profile.name}, seed {seed}, {len(claims)} claims on {where}",
        flush=True,
    )
    start = time.perf_counter()
    stop: Interrupted | None = None
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
    except Interrupted as exc:  # SIGINT/SIGTERM: the workers are down, report what finished
        stop, records = exc, exc.records
    except (RuntimeError, OSError, InputError) as exc:  # e.g. no dask extra, no scheduler
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
    paths: list[Path] = []
    if args.report is not None:
        explore = (
            _explore_with_progress(seed, not args.no_progress)
            if args.explore and stop is None
            else []
        )
        meta = run_metadata(profile.name, seed, args.jobs, args.scheduler, list(argv))
        doc = report_document(meta, records, explore, complete=stop is None)
        try:
            paths = write_report(doc, args.report)
        except KeyboardInterrupt:  # a second Ctrl-C while the partial report is written
            if stop is None:
                raise
        if paths:
            print(f"report: {', '.join(str(p) for p in paths[:2])} (+{len(paths) - 2} figures)")
    if stop is not None:
        names = ", ".join(r.name for r in records) or "none"
        partial = f"; partial report {paths[0]}" if paths else ""
        print(
            f"interrupted by {stop.signame}: {len(records)}/{stop.total} claims finished "
            f"({names}){partial}",
            file=sys.stderr,
            flush=True,
        )
        return stop.exit_code
    return 1 if failed else 0


# --------------------------------------------------------------------------------------
# reproduce
# --------------------------------------------------------------------------------------


REPRODUCE_EXIT = """
exit status:
  0    every setting agrees (or the report has no failing setting)
  1    a setting disagrees (both sides, the error and the threshold are printed)
  2    usage error or invalid input, nothing is run: no CLAIM --setting and no
       --report, an unknown claim, a setting that is not JSON, has unknown or
       missing fields, a wrong type (true or 3.0 for an integer, a string, NaN
       or inf for a number) or breaks the claim's hypotheses (the rule is
       named), a --report that is missing or not a campaign report.json
  130  interrupted (Ctrl-C)
"""


def _reproduce_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verify reproduce",
        description="Rerun exactly one setting of a claim (as printed by a failing run), or "
        "every failing setting recorded in a campaign's report.json. The setting is "
        "validated (fields, types, the claim's hypotheses) before anything runs.",
        epilog="examples:\n  python -m verify reproduce L1-gd-limit --setting '{\"d\": 4, ...}'\n"
        "  python -m verify reproduce --report out/report.json\n"
        "  python -m verify reproduce --report out/          (the same: out/report.json)\n"
        + REPRODUCE_EXIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("claim", nargs="?", help="exact claim name (with --setting)")
    parser.add_argument("--setting", help="the setting as JSON")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="REPORT",
        help="a campaign's report.json, or the folder holding it: rerun its failing "
        "settings (optionally of CLAIM only)",
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


def _read_campaign_report(path: Path) -> dict[str, Any]:
    """The campaign report at ``path`` (a report.json, or a folder holding one), or a
    one-line UsageError."""
    from verify.outputs import UsageError

    target = path / "report.json" if path.is_dir() else path
    if not target.is_file():
        where = "no report.json in this folder" if path.is_dir() else "no such file"
        raise UsageError(f"--report {path}: {where}")
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--report {target}: cannot read it as JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        raise UsageError(f"--report {target}: not a campaign report.json (it has no 'claims' list)")
    return doc


def _reproduce(argv: Sequence[str]) -> int:
    from verify.outputs import UsageError

    args = _reproduce_parser().parse_args(argv)
    jobs: list[tuple[str, str]] = []
    try:
        if args.report is not None:
            if args.setting is not None:
                raise UsageError("give CLAIM --setting JSON or --report, not both")
            doc = _read_campaign_report(args.report)
            if doc.get("complete") is False:
                print(f"note: {args.report} is a partial report (the run was interrupted)")
            for claim in doc["claims"]:
                if (
                    isinstance(claim, dict)
                    and not claim.get("passed", True)
                    and isinstance(claim.get("failing"), dict)
                    and args.claim in (None, claim.get("name"))
                ):
                    setting = claim["failing"].get("setting", {})
                    jobs.append((str(claim.get("name")), json.dumps(setting, sort_keys=True)))
            if not jobs:
                print(
                    f"no failing settings in {args.report}"
                    + (f" for {args.claim}" if args.claim else "")
                )
                return 0
        elif args.claim and args.setting:
            jobs.append((args.claim, args.setting))
        else:
            raise UsageError("give CLAIM --setting JSON, or --report report.json")
        # Every setting is parsed and checked against its claim's hypotheses (InputError,
        # exit 2) before any check runs: an invalid setting is a usage error, not a FAIL.
        settings = []
        for name, text in jobs:
            claim = registry.get(name)
            settings.append((claim, text, claim.setting_from_json(text)))
    except (ValueError, UsageError) as exc:  # InputError is a ValueError
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


class _ItemProgress:
    """Live progress of a sweep (figures, explorations) on stderr, like a campaign's.

    On a terminal: one updating line naming what runs, and a permanent line per finished
    item; otherwise (a log, a pipe) only the line per finished item, e.g.
    ``[3/8 figures] depth done in 12.3s``. ``enabled=False`` (``--no-progress``): silent.
    """

    def __init__(self, total: int, noun: str, enabled: bool = True, stream: Any = None) -> None:
        self.total, self.noun, self.enabled = total, noun, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.done = 0
        self.running: list[str] = []

    def _write(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text)
            self.stream.flush()

    def start(self, *names: str) -> None:
        self.running += [n for n in names if n not in self.running]
        self.redraw()

    def finish(self, name: str, seconds: float, status: str = "done") -> None:
        self.done += 1
        if name in self.running:
            self.running.remove(name)
        line = f"[{self.done}/{self.total} {self.noun}] {name} {status} in {seconds:.1f}s"
        self._write(("\r\033[K" if self.tty else "") + line + "\n")

    def redraw(self) -> None:
        """The updating line (terminals only): what is running now."""
        if self.tty and self.running:
            running = ", ".join(self.running)
            self._write(f"\r\033[K[{self.done}/{self.total} {self.noun}] running {running}")

    def clear(self) -> None:
        if self.tty:
            self._write("\r\033[K")


def _explore_with_progress(seed: int, enabled: bool) -> list[dict[str, Any]]:
    """Every exploration at quick size (``--explore``), with the sweep's live progress."""
    from verify.explore import EXPLORATIONS

    progress = _ItemProgress(len(EXPLORATIONS), "explorations", enabled=enabled)
    try:
        return _explorations(
            [],
            "quick",
            seed,
            lambda i, name: progress.start(name),
            lambda i, item, seconds: progress.finish(item["name"], seconds),
        )
    finally:
        progress.clear()


def _explorations(
    names: list[str],
    size: str,
    seed: int,
    on_start: Any = None,
    on_result: Any = None,
) -> list[dict[str, Any]]:
    from verify.explore import run_explorations

    return run_explorations(names, size, seed, on_start, on_result)  # type: ignore[arg-type]


EXPLORE_EXIT = """
exit status:
  0    every exploration ran (nothing fails: the curves are the result)
  1    an exploration raised an error (the ones that finished are written,
       marked "complete": false)
  2    usage error, nothing is run: an unknown name, a --report that is a file,
       lies below a file or cannot be written
  130  interrupted (Ctrl-C): the finished explorations are written, marked
       "complete": false
"""


def _explore_parser() -> argparse.ArgumentParser:
    from verify.explore import EXPLORATIONS

    parser = argparse.ArgumentParser(
        prog="python -m verify explore",
        description="Relax one hypothesis at a time and measure how far training drifts from "
        "the closed form (nothing fails; the curves are the result). Explorations: "
        + "; ".join(f"{k}: {v[0]}" for k, v in EXPLORATIONS.items()),
        epilog="examples:\n  python -m verify explore\n"
        "  python -m verify explore width step-size --size full\n"
        "  python -m verify explore --report out/   out/explore.json, explore.md, explore-*.png\n"
        "  python -m verify --explore --report out/ the curves inside a campaign's report\n"
        + EXPLORE_EXIT,
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
        help="write DIR/explore.json, DIR/explore.md and DIR/explore-NAME.png (a campaign's "
        "report.* in the same folder is left alone; checked before anything runs). "
        "Example: --report out/",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no live progress on stderr (one updating line on a terminal, one line per "
        "finished exploration otherwise)",
    )
    return parser


def _print_exploration(item: dict[str, Any]) -> None:
    print(f"{item['name']}: {item['title']} (relaxed: {item['relaxed']})")
    for x, y in zip(item["x"], item["y"], strict=True):
        print(f"    {item['xlabel']} = {x:<10.4g} {item['ylabel']} = {y:.3g}")
    print(textwrap.indent(textwrap.fill(item["summary"], 88), "  "), flush=True)


def _explore(argv: Sequence[str]) -> int:
    from verify.explore import EXPLORATIONS
    from verify.outputs import UsageError, prepare_output_dir
    from verify.report import explore_document, run_metadata, write_explore

    args = _explore_parser().parse_args(argv)
    unknown = [n for n in args.names if n not in EXPLORATIONS]
    if unknown:
        print(
            f"error: unknown exploration(s) {unknown}; valid names: {', '.join(EXPLORATIONS)}",
            file=sys.stderr,
        )
        return 2
    if args.report is not None:
        try:  # before any work: a bad folder costs nothing
            prepare_output_dir(args.report, "--report")
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    names = list(args.names) or list(EXPLORATIONS)
    progress = _ItemProgress(len(names), "explorations", enabled=not args.no_progress)
    results: list[dict[str, Any]] = []
    current: list[str] = []

    def started(i: int, name: str) -> None:
        current[:] = [name]
        progress.start(name)

    def finished(i: int, item: dict[str, Any], seconds: float) -> None:
        results.append(item)
        progress.finish(item["name"], seconds)
        _print_exploration(item)

    status = 0
    try:
        _explorations(names, args.size, args.seed, started, finished)
    except KeyboardInterrupt:
        progress.clear()
        status = EXIT_INTERRUPTED
    except Exception as exc:  # an exploration crashed: report it, keep what finished
        progress.clear()
        name = current[0] if current else "?"
        print(f"error: exploration {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        status = 1
    if args.report is not None and (results or status == 0):
        meta = run_metadata("explore", args.seed, 1, None, ["explore", *argv])
        meta["size"] = args.size
        doc = explore_document(meta, results, complete=status == 0)
        paths = write_explore(doc, args.report)
        print(f"report: {', '.join(str(p) for p in paths[:2])} (+{len(paths) - 2} figures)")
    if status == EXIT_INTERRUPTED:
        print(
            f"interrupted: {len(results)}/{len(names)} explorations finished"
            + (" (written, marked incomplete)" if args.report is not None and results else ""),
            file=sys.stderr,
        )
    return status


# --------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------


FIGURES_EXIT = """
exit status:
  0    every figure was built and written
  1    a figure raised an error while it was built (named on stderr; every other
       figure is written)
  2    usage error, nothing is built: an unknown name, a bad --format, --out a
       file, below a file or not writable, no matplotlib without --numbers-only, --scheduler
       without the dask extra; or a figure needs a missing extra (named on
       stderr with its install command, e.g. pip install ".[data]"; every other
       figure is written). 1 wins over 2 when both happen
  130  interrupted (Ctrl-C): the figures finished so far are written
"""


def _figures_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m verify figures",
        description="Reproduce the paper's figures: theory curves (symbolic side) and trained "
        "points (numeric side) on the same axes. Writes NAME.png (plus NAME.pdf, NAME.svg "
        "with --format), NAME.json and NAME.csv "
        "for each figure as soon as it is built (atomically; a figure that cannot be built "
        "is named on stderr and the others are still written).",
        epilog="examples:\n  python -m verify figures --out figures/\n"
        "  python -m verify figures depth --size full --out figures/\n"
        "  python -m verify figures --format pdf,svg,png --out figures/\n"
        "  python -m verify figures --scheduler local --size full --out figures/\n"
        "  python -m verify figures --list\n" + FIGURES_EXIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="figures to build (default: all)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("figures"),
        help="output folder (default: figures; checked before anything is built)",
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
        "--format",
        default="png",
        metavar="LIST",
        help="figure files to write, a comma list of png, pdf, svg (default: png; NAME.png "
        "is always written). Example: --format pdf,svg,png",
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
        help="build the figures as Dask tasks ('local' for a LocalCluster, or an address "
        "tcp://host:port; needs the dask extra). Example: --scheduler local",
    )
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no live progress on stderr (one updating line on a terminal, one line per "
        "finished figure otherwise)",
    )
    return parser


def _timed_build(name: str, size: str) -> tuple[Any, float]:
    """(FigureData, seconds) of one figure; runs in this process, a worker or on Dask."""
    start = time.perf_counter()
    data = build_figure(name, size)  # type: ignore[arg-type]
    return data, time.perf_counter() - start


def _figure_failure(name: str, exc: BaseException) -> tuple[int, str]:
    """(exit status, one line) for a figure that could not be built: 2 for a missing extra
    (with its install command), 1 for any other error."""
    if isinstance(exc, MissingExtraError):
        if exc.extra is not None:
            return 2, (
                f"figure {name} not built: needs the '{exc.extra}' extra ({exc.message}): "
                f"{install_command(exc.extra)}"
            )
        return 2, f"figure {name} not built: {exc}"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return 1, f"figure {name} not built: {type(exc).__name__}: {text}"


def _figures(argv: Sequence[str]) -> int:
    from finetune_theory.errors import InputError
    from verify.outputs import UsageError, prepare_output_dir

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
    try:
        formats = parse_formats(args.format)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # Everything that can make the run useless is checked before the first figure is built.
    try:
        if not args.numbers_only:
            require_matplotlib()
        if args.scheduler is not None:
            from verify.campaign import check_scheduler

            check_scheduler(args.scheduler)
            try:
                import distributed  # noqa: F401
            except ImportError:
                raise MissingExtraError("--scheduler needs Dask distributed", "dask") from None
        prepare_output_dir(args.out, "--out")
    except (MissingExtraError, UsageError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = list(args.names) or list(specs)
    start = time.perf_counter()
    progress = _ItemProgress(len(names), "figures", enabled=not args.no_progress)
    failures: list[tuple[int, str]] = []
    written = 0
    try:
        for name, result, seconds in _build_each(
            names, args.size, args.scheduler, args.jobs, progress
        ):
            if isinstance(result, BaseException):
                code, line = _figure_failure(name, result)
                progress.finish(name, seconds, "not built")
                print(f"error: {line}", file=sys.stderr, flush=True)
                failures.append((code, line))
                progress.redraw()
                continue
            paths = write_numbers(result, args.out)
            if not args.numbers_only:
                paths += plot_files(result, args.out, formats)
            written += 1
            progress.finish(name, seconds)
            summary = ", ".join(f"{k}={_fmt(v)}" for k, v in result.summary.items())
            print(f"{name}: {' '.join(str(p) for p in paths)}", flush=True)
            if summary:
                print(f"  {summary}", flush=True)
            progress.redraw()
    except KeyboardInterrupt:
        progress.clear()
        print(
            f"interrupted: {written}/{len(names)} figure(s) written to {args.out}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except RuntimeError as exc:  # the Dask scheduler could not be reached
        progress.clear()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    progress.clear()
    print(f"{written}/{len(names)} figure(s) written in {time.perf_counter() - start:.1f}s")
    if failures:
        for _, line in failures:
            print(f"  {line}")
        return 1 if any(code == 1 for code, _ in failures) else 2
    return 0


def _build_each(
    names: list[str], size: str, scheduler: str | None, jobs: int, progress: _ItemProgress
) -> Iterator[tuple[str, Any, float]]:
    """Yield (name, FigureData or the exception that stopped it, seconds) for every figure,
    each as soon as it is built: in this process, in worker processes or on Dask."""
    if scheduler is None and (jobs <= 1 or len(names) <= 1):
        for name in names:
            progress.start(name)
            start = time.perf_counter()
            try:
                data, seconds = _timed_build(name, size)
            except Exception as exc:  # reported per figure; the other figures still build
                yield name, exc, time.perf_counter() - start
            else:
                yield name, data, seconds
        return
    start = time.perf_counter()
    if scheduler is None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        ctx = mp.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(names)), mp_context=ctx)
        try:
            futures = {pool.submit(_timed_build, name, size): name for name in names}
            progress.start(*names)
            for fut in as_completed(futures):
                yield _outcome(futures[fut], fut, start)
        except BaseException:  # interrupted (or the caller stopped): do not wait for builds
            workers = list(getattr(pool, "_processes", {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in workers:
                proc.terminate()
            raise
        pool.shutdown(wait=True)
        return
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as exc:
        raise RuntimeError(
            f"--scheduler needs Dask distributed: {install_command('dask')}"
        ) from exc
    from verify.campaign import connect_scheduler

    cluster = (
        LocalCluster(n_workers=jobs, threads_per_worker=1, dashboard_address=":0")
        if scheduler == "local"
        else None
    )
    try:  # an address that does not answer fails within SCHEDULER_CONNECT_TIMEOUT
        client = Client(cluster) if cluster is not None else connect_scheduler(Client, scheduler)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        raise RuntimeError(f"--scheduler {scheduler}: no Dask scheduler answered ({exc})") from exc
    try:
        dask_futures = {client.submit(_timed_build, name, size, pure=False): name for name in names}
        progress.start(*names)
        for fut in dask_completed(list(dask_futures)):
            yield _outcome(dask_futures[fut], fut, start)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _outcome(name: str, fut: Any, start: float) -> tuple[str, Any, float]:
    """(name, FigureData or exception, seconds) of a finished future."""
    exc = fut.exception()
    if exc is not None:
        return name, exc, time.perf_counter() - start
    data, seconds = fut.result()
    return name, data, seconds


def _fmt(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------------------
# power
# --------------------------------------------------------------------------------------


POWER_EXIT = """
exit status:
  0    every selected mutant ran (killed or survived: the rates are the result)
  2    usage error, nothing is run (an unknown mutant or claim, a --report that
       is a file, lies below a file or cannot be written), or a mutant's run
       could not be completed (status 'error')
  130  interrupted (Ctrl-C)
"""


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
        "  python -m verify power L-expected-variance-dof --claims L3-expected-risk\n" + POWER_EXIT,
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
        help="write DIR/power.json and DIR/power.md (checked before anything runs; other "
        "runs' files in DIR are left alone)",
    )
    return parser


def _power(argv: Sequence[str]) -> int:
    from verify import power
    from verify.outputs import UsageError, atomic_write_text, prepare_output_dir

    args = _power_parser().parse_args(argv)
    try:
        mutants = power.select_mutants(args.mutants)
        claims = [c.name for c in registry.select(args.claims)]
        if args.report is not None and not args.list:  # before any work
            prepare_output_dir(args.report, "--report")
    except (ValueError, UsageError) as exc:
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
        atomic_write_text(args.report / "power.json", json.dumps(doc, indent=2) + "\n")
        atomic_write_text(args.report / "power.md", power.format_markdown(doc))
        print(f"report: {args.report / 'power.json'}, {args.report / 'power.md'}")
    errors = [r for r in results if r.status == "error"]
    return 2 if errors else 0


# --------------------------------------------------------------------------------------


def _derivations(argv: Sequence[str]) -> int:
    """``python -m verify derivations``: see :mod:`verify.derivations` (imported on use)."""
    from verify import derivations

    return derivations.main(argv)


SUBCOMMANDS = {
    "reproduce": _reproduce,
    "explore": _explore,
    "figures": _figures,
    "power": _power,
    "derivations": _derivations,
}


#: Exit status of a run stopped by Ctrl-C (128 + SIGINT, the shell's convention).
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status instead of calling sys.exit.

    0 agreement (or the work done), 1 a disagreement, 2 a usage error or invalid input,
    130 interrupted by Ctrl-C (see the module docstring).
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    handler = SUBCOMMANDS.get(args_list[0]) if args_list else None
    try:
        if handler is not None:
            return handler(args_list[1:])
        return _run(args_list)
    except SystemExit as exc:  # argparse: --help exits 0, usage errors exit 2
        return int(exc.code) if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:  # Ctrl-C outside a subcommand's own handling: no traceback
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
