"""Every claim's setting states the claim's hypotheses (``Claim.validate_setting``).

Settings the claims' own strategies draw (quick and thorough) are accepted, through the JSON
of ``python -m verify reproduce`` too; a setting outside a theorem's hypotheses is refused
with an InputError naming the field and the rule, and ``reproduce`` exits 2 on it (a usage
error), not 1 (a disagreement). Nothing here runs a check except one cheap valid reproduce.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

from finetune_theory.errors import InputError
from tests.verify.test_cli import VALID as CLI_VALID
from verify import cli, registry
from verify.claim import Claim, setting_to_json

#: Drawing is cheap (no check runs): 15 settings per strategy, the same ones every run.
DRAWS = settings(
    max_examples=15,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

CLAIMS = registry.all_claims()
STRATEGIES = [(c, False) for c in CLAIMS] + [
    (c, True) for c in CLAIMS if c.thorough_strategy is not None
]


@pytest.mark.parametrize(
    ("claim", "large"),
    STRATEGIES,
    ids=[f"{c.name}-{'thorough' if large else 'quick'}" for c, large in STRATEGIES],
)
def test_drawn_settings_meet_the_claims_rules(claim: Claim, large: bool) -> None:
    @DRAWS
    @given(claim.strategy_for(large))
    def accepted(setting: Any) -> None:
        claim.validate_setting(setting)
        # The reproduce path: the JSON a failing run prints parses back to the same setting.
        assert claim.setting_from_json(setting_to_json(setting)) == setting

    accepted()


@functools.cache
def _drawn(name: str) -> Any:
    """One setting the claim's strategy draws (deterministic; not shrunk: no cost)."""
    return find(
        registry.get(name).strategy,
        lambda _: True,
        settings=settings(DRAWS, phases=[Phase.generate]),
    )


Change = Callable[[Any], Any]


def _set(**fields: Any) -> Change:
    return lambda s: dataclasses.replace(s, **fields)


def _nested(**fields: Any) -> Change:
    return lambda s: dataclasses.replace(s, problem=dataclasses.replace(s.problem, **fields))


#: Per claim: (a change that breaks a hypothesis, text the error must contain).
VIOLATIONS: dict[str, list[tuple[Change, str]]] = {
    "L1-gd-limit": [
        (_set(d=-3), "d must satisfy d >= 1"),
        (_set(n=0), "n must satisfy n >= 1"),
        (_set(spectrum="flat"), "spectrum must satisfy spectrum in"),
        (_set(condition=0.5), "condition must satisfy condition >= 1"),
        (_set(row_fraction=1.5), "row_fraction must satisfy"),
        (_set(seed=-1), "seed must satisfy seed >= 0"),
    ],
    "L1-gd-trajectory": [
        (_nested(d=0), "problem.d must satisfy d >= 1"),
        (_set(step_fraction=1.0), "step_fraction must satisfy 0 < step_fraction < 1"),
        (_set(k=301), "k must satisfy k <= 300"),
        (_set(k=-1), "k must satisfy k >= 0"),
    ],
    "L2-risk-decomposition": [
        (_set(epsilon=-0.1), "epsilon must satisfy epsilon >= 0"),
        (_set(noise_std=-1.0), "noise_std must satisfy noise_std >= 0"),
    ],
    "L2-noise-average": [
        (_nested(noise_std=0.0), "problem.noise_std must satisfy noise_std > 0"),
        (_nested(n=0), "problem.n must satisfy n >= 1"),
        (_set(draws=1), "draws must satisfy draws >= 2"),
    ],
    "L3-expected-risk": [
        (_set(d=20, n=19, noise_std=1.0), "n, d must satisfy n <= d - 2 or n >= d + 2"),
        (_set(d=20, n=21, noise_std=0.3), "n, d must satisfy n <= d - 2 or n >= d + 2"),
        (_set(d=20, n=20, noise_std=0.0), "n, d must satisfy n < d when noise_std = 0"),
        (_set(designs=1), "designs must satisfy designs >= 2"),
    ],
    "L-exact-cases": [
        (_set(case="n=2d"), "case must satisfy case in"),
        (_set(d=0), "d must satisfy d >= 1"),
        (_set(condition=0.9), "condition must satisfy condition >= 1"),
    ],
    "L4-asymptotic-risk": [
        (_set(n=300, d=300), "n, d must satisfy n < d"),
        (_set(n=299, d=300, noise_std=0.5), "n, d must satisfy n <= d - 2 when noise_std > 0"),
        (_set(d=20, n=5), "d must satisfy d >= 50"),
        (_set(alignment="left"), "alignment must satisfy alignment in"),
        (_set(designs=1), "designs must satisfy designs >= 2"),
    ],
    "L-estimators": [
        (_set(samples=100), "samples must satisfy samples >= 10000"),
        (_set(d=0), "d must satisfy d >= 1"),
    ],
    "D1-one-step": [
        (_set(depth=1), "depth must satisfy depth >= 2"),
        (_set(source_norm=0.0), "source_norm must satisfy source_norm > 0"),
        (_set(width=0), "width must satisfy width >= 1"),
    ],
    "D1-balance-conserved": [
        (_nested(depth=1), "problem.depth must satisfy depth >= 2"),
        (_set(init_scale=0.0), "init_scale must satisfy init_scale > 0"),
        (_set(horizon=-1.0), "horizon must satisfy horizon > 0"),
    ],
    "D3-flow-limit": [
        (_set(n=5, d=5), "n, d must satisfy n < d"),
        (_set(depth=0), "depth must satisfy depth >= 1"),
        (
            _set(alpha=0.0, epsilon=0.0, noise_std=0.0, row_fraction=1.0),
            "alpha, epsilon, noise_std, row_fraction must satisfy y != 0",
        ),
    ],
    "D3-invariant-set": [
        (
            _set(alpha=0.0, epsilon=0.0, noise_std=0.0, row_fraction=1.0),
            "alpha, epsilon, noise_std, row_fraction must satisfy y != 0",
        ),
        (_set(spectrum="flat"), "spectrum must satisfy spectrum in"),
    ],
    "D3-gd-rate": [
        (_set(depth=1), "depth must satisfy depth >= 2"),
        (_set(n=3, d=2), "n, d must satisfy n < d"),
    ],
    "D3-pretrained": [
        (_set(depth=1), "depth must satisfy depth >= 2"),
        (_set(n=2, d=2), "n, d must satisfy n < d"),
    ],
    "D4-depth-limit": [
        (_set(row_fraction=1.0), "row_fraction must satisfy row_fraction = -1.0 or in (0, 1)"),
        (_set(row_fraction=0.0), "row_fraction must satisfy row_fraction = -1.0 or in (0, 1)"),
        (
            _set(alpha=0.0, epsilon=0.0, noise_std=0.0),
            "alpha, epsilon, noise_std must satisfy not all 0",
        ),
        (_set(n=4, d=3), "n, d must satisfy n < d"),
    ],
    "D5-aligned-teacher": [
        (_set(alpha=-1.0), "alpha must satisfy alpha > 0"),
        (_set(n=6, d=6), "n, d must satisfy n < d"),
        (_set(width=0), "width must satisfy width >= 1"),
    ],
    "D6-frozen-first-layer": [
        (_nested(depth=1), "problem.depth must satisfy depth >= 2"),
        (_set(steps=0), "steps must satisfy steps >= 1"),
        (_set(n=0), "n must satisfy n >= 1"),
    ],
    "K1-kernel-quadrature": [
        (_set(d=1), "d must satisfy d >= 2"),
        (_set(regime="bulk", position=1.5), "position must satisfy 0 <= position <= 1"),
        (_set(regime="near-0", position=16.0), "position must satisfy"),
        (_set(regime="middle"), "regime must satisfy regime in"),
    ],
    "K1-monte-carlo-rate": [
        (_set(n=1, layers="first"), "n, layers must satisfy n >= 2 for layers 'first'"),
        (_set(layers="third"), "layers must satisfy layers in"),
        (_set(replicates=1), "replicates must satisfy replicates >= 2"),
        (_set(base=1), "base must satisfy base >= 2"),
    ],
    "K1-empirical-ntk-width": [
        (_set(base=127), "base must satisfy base even and >= 2"),
        (_set(d=1), "d must satisfy d >= 2"),
    ],
    "K2-linear-teacher-norm": [
        (_set(scale=0.0), "scale must satisfy scale > 0"),
        (_set(d=1), "d must satisfy d >= 2"),
    ],
    "K3-predictor-width": [
        (_set(base_width=129), "base_width must satisfy base_width even and >= 2"),
        (_set(replicates=1), "replicates must satisfy replicates >= 2"),
        (_set(steps=-1), "steps must satisfy steps >= 0"),
    ],
    "K3-distance-travelled": [
        (_set(source="scratch"), "source must satisfy source in"),
        (_set(width=511), "width must satisfy width even and >= 2"),
        (_set(scale=-1.0), "scale must satisfy scale > 0"),
    ],
    "K3-source-distance": [
        (_set(d=5, n=5), "n, d must satisfy n >= 2d"),
        (_set(n_test=1), "n_test must satisfy n_test >= 2"),
    ],
}


def test_every_claim_has_violations_listed() -> None:
    assert set(VIOLATIONS) == {c.name for c in CLAIMS}


CASES = [(name, change, text) for name, items in VIOLATIONS.items() for change, text in items]


@pytest.mark.parametrize(("name", "change", "text"), CASES, ids=[f"{n}: {t}" for n, _, t in CASES])
def test_a_setting_outside_the_hypotheses_is_refused(name: str, change: Change, text: str) -> None:
    claim = registry.get(name)
    valid = _drawn(name)
    claim.validate_setting(valid)
    broken = change(valid)
    with pytest.raises(InputError, match="outside the claim's hypotheses") as info:
        claim.validate_setting(broken)
    assert text in str(info.value) and name in str(info.value)
    # The same setting as reproduce's JSON is refused the same way.
    with pytest.raises(InputError, match="outside the claim's hypotheses"):
        claim.setting_from_json(setting_to_json(broken))


#: A valid L1-gd-limit setting (a training claim that runs in milliseconds here): the
#: regression problem of test_cli's valid L1-gd-trajectory setting.
L1_VALID = dict(CLI_VALID["problem"])
L3_VALID = {
    "d": 20,
    "n": 10,
    "seed": 1,
    "alpha": 1.0,
    "epsilon": 0.5,
    "noise_std": 1.0,
    "designs": 48,
}


def _reproduce(claim: str, setting: dict[str, Any]) -> int:
    return cli.main(["reproduce", claim, "--setting", json.dumps(setting)])


def test_reproduce_exits_2_naming_the_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert _reproduce("L1-gd-limit", {**L1_VALID, "d": -3}) == 2
    captured = capsys.readouterr()
    assert "d must satisfy d >= 1" in captured.err and "d=-3" in captured.err
    assert "L1-gd-limit" in captured.err and "FAIL" not in captured.out

    assert _reproduce("L3-expected-risk", {**L3_VALID, "n": 19, "d": 20}) == 2
    err = capsys.readouterr().err
    assert "n <= d - 2 or n >= d + 2 when noise_std > 0" in err and "n=19, d=20" in err


def test_reproduce_still_runs_a_valid_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert _reproduce("L1-gd-limit", L1_VALID) == 0
    assert capsys.readouterr().out.startswith("PASS  L1-gd-limit")
    # The L3 edges n = d - 2 and n = d + 2 are inside its hypotheses (parsed, not run).
    claim = registry.get("L3-expected-risk")
    for n in (18, 22):
        claim.setting_from_json(json.dumps({**L3_VALID, "n": n}))


@pytest.mark.parametrize(("d", "depth"), [(1000, 50), (592, 50), (586, 50), (400, 50), (7, 1)])
def test_widest_chain_is_the_largest_width_the_trainer_accepts(d: int, depth: int) -> None:
    # Before: D4/D5 thorough drew d = width = 592 at depth 50 (1.7e7 entries > 2**24) and
    # the check crashed in uniform_widths; the strategies now cap the width here.
    import numeric.deep_linear as ndl
    from verify.deep_linear import widest_chain

    w = widest_chain(d, depth)
    ndl.uniform_widths(d, w, depth)  # accepted
    if w < d:
        with pytest.raises(InputError, match="MAX_PARAMETERS"):
            ndl.uniform_widths(d, w + 1, depth)
