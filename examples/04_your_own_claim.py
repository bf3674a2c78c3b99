# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Writing and running your own claim with the verifier's machinery
#
# **What this shows:** how `python -m verify` checks a statement, by defining a new claim
# from scratch and running it with the same runner, profile and report writer. The claim
# is a consequence of L1 (docs/theory.md L1): *every* gradient-descent iterate from θ_S
# keeps the null-space component (I − P)θ_S exactly, at every step k and not only in the
# limit, because every gradient (1/n)Xᵀ(Xθ − y) lies in the row space of X.
#
# The pieces, all from `verify`:
#
# 1. a **setting**: a frozen dataclass of plain numbers (d, n, seed, steps) with a
#    `validate()` built from `verify.claim.Rule`s (the theorem's hypotheses);
# 2. a **Hypothesis strategy** that draws settings, built from `verify.strategies`
#    (tiered dimensions, sample sizes with the edges n = 1 and n = d − 1, seeds);
# 3. a **named tolerance** (`verify.claim.Tolerance`) tied to an error model: float64
#    rounding per step and in the projector;
# 4. a **check** returning an `Outcome` (error, threshold, both sides), and the
#    `verify.claim.Claim` that bundles them with an oracle tier;
# 5. `verify.runner.run_claim` with the `quick` profile (`verify.profiles.get_profile`),
#    and `verify.report` to print the outcome and write report.json / report.md.
#
# Then a **deliberately broken variant** (a wrong closed form: "fine-tuning forgets θ_S")
# is run the same way: the runner catches it, shrinks it to a minimal setting and prints
# the failure. **What to look at:** PASS for the claim, FAIL with a small shrunk setting
# for the broken one, and the files of the report. The last cell asserts all of it.

# %%
import dataclasses
import json
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

import numeric
import symbolic
from verify.claim import (
    SEED_RULE,
    Claim,
    Oracle,
    Outcome,
    Rule,
    Tolerance,
    at_least,
    check_rules,
    setting_to_json,
)
from verify.profiles import get_profile
from verify.report import (
    format_record,
    format_record_failure,
    record_from_result,
    report_document,
    run_metadata,
    validate_report,
    write_report,
)
from verify.runner import run_claim
from verify.strategies import SEEDS, dimensions, sample_sizes

EPS = float(np.finfo(np.float64).eps)

# %% [markdown]
# ## 1. The setting and its hypotheses

# %%
NULL_SPACE_RULES = (
    at_least("d", 2),
    Rule("n", lambda s: 1 <= s.n < s.d, "1 <= n < d (a null space to keep)"),
    SEED_RULE,
    at_least("steps", 1, "at least one gradient step"),
)


@dataclasses.dataclass(frozen=True)
class NullSpaceSetting:
    """A design X (n, d) ~ N(0, I), labels from a random teacher, θ_S a random unit vector,
    and ``steps`` gradient-descent steps at the default step 1/λ_max(XᵀX/n)."""

    d: int
    n: int
    seed: int
    steps: int

    def validate(self) -> None:
        check_rules(self, NULL_SPACE_RULES)

    def build(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        theta_s = numeric.data.random_unit_vector(self.d, rng)
        theta_t = numeric.data.synthetic_teacher(theta_s, 1.0, 0.5, rng)
        X = numeric.data.sample_inputs(self.n, self.d, rng)
        return X, numeric.data.labels(X, theta_t, 0.1, rng), theta_s


# %% [markdown]
# ## 2. The strategy: the hypothesis space, not a friendly corner
#
# d from 2 to 60 (mostly small: cheap, where shrinking lands), n anywhere in [1, d − 1]
# with the edges drawn often, 1 to 500 steps.


# %%
@st.composite
def null_space_settings(draw: st.DrawFn) -> NullSpaceSetting:
    d = draw(dimensions(60, min_d=2, small=20))
    return NullSpaceSetting(
        d=d, n=draw(sample_sizes(d)), seed=draw(SEEDS), steps=draw(st.integers(1, 500))
    )


# %% [markdown]
# ## 3. The tolerance and its error model
#
# In exact arithmetic the error is 0. In float64 each step θ − ηg rounds every coordinate
# (relative error ≤ eps) and g itself carries a rounding error, so the null-space part
# drifts by at most a few eps·‖θ‖ per step: `STEP_ULPS` per step, added linearly (a
# random walk would give √k, linear is the safe bound). The projector P and the closed
# form come from an SVD and a pseudo-inverse, each accurate to ~cond(X)·eps:
# `PROJECTION_ULPS`·cond(X)·eps.

# %%
STEP_ULPS = 8.0
PROJECTION_ULPS = 64.0
NULL_SPACE_TOL = Tolerance(
    "float-rounding-per-step",
    1.0,
    f"ratio to the bound: |(I - P)(theta_k - theta_FT)| <= ({STEP_ULPS:g} k + "
    f"{PROJECTION_ULPS:g} cond(X)) eps (|theta_S| + |theta_FT|): each GD step rounds theta "
    "and the gradient (a few ulps, added linearly over k steps), and P and theta_FT come from "
    "an SVD / pseudo-inverse accurate to ~cond(X) eps",
)

# %% [markdown]
# ## 4. The check: symbolic side against numeric side
#
# Symbolic side: the null-space part of θ_FT = θ_S + X⁺(y − Xθ_S)
# (`symbolic.linear.finetuned_weights`), which is (I − P)θ_S. Numeric side: the null-space
# part of the k-th gradient-descent iterate (`numeric.linear.fine_tune` stopped after
# `steps` steps). P comes from an SVD of X, independent of both.


# %%
def null_projector(X: np.ndarray) -> np.ndarray:
    """I − P with P = VᵀV, V the right singular vectors of X (n < d, full row rank)."""
    _, _, vt = np.linalg.svd(X, full_matrices=False)
    return np.asarray(np.eye(X.shape[1]) - vt.T @ vt, dtype=np.float64)


def null_space_outcome(s: NullSpaceSetting, closed_form: np.ndarray) -> Outcome:
    X, y, theta_s = s.build()
    run = numeric.linear.fine_tune(X, y, theta_s, rtol=1e-300, max_steps=s.steps, strict=False)
    Q = null_projector(X)
    want, got = Q @ closed_form, Q @ run.theta
    scale = float(np.linalg.norm(theta_s) + np.linalg.norm(closed_form))
    bound = (STEP_ULPS * int(run.steps) + PROJECTION_ULPS * float(np.linalg.cond(X))) * EPS
    return Outcome(
        error=float(np.linalg.norm(got - want)) / scale,
        threshold=bound * NULL_SPACE_TOL.bound,
        symbolic=float(np.linalg.norm(want)),
        numeric=float(np.linalg.norm(got)),
        note=f"{int(run.steps)} GD steps, cond(X) = {np.linalg.cond(X):.3g}",
    )


def check_null_space(s: NullSpaceSetting) -> Outcome:
    X, y, theta_s = s.build()
    return null_space_outcome(s, symbolic.linear.finetuned_weights(X, y, theta_s))


NULL_SPACE = Claim(
    name="example-L1-null-space-kept",
    statement="every gradient-descent iterate from theta_S has null-space part (I - P)theta_S",
    source="docs/theory.md L1",
    oracle=Oracle.SYMBOLIC_IDENTITY,
    tolerance=NULL_SPACE_TOL,
    setting_type=NullSpaceSetting,
    strategy=null_space_settings(),
    check=check_null_space,
    examples=25,
    domain="d 2-60 (tiered), n 1..d-1 (edges often), 1-500 GD steps at the default step",
    validate=lambda s: check_rules(s, NULL_SPACE_RULES),
)

# %% [markdown]
# ## 5. Run it with the quick profile (fixed seed: the same settings on every run)

# %%
profile = get_profile("quick")
result = run_claim(NULL_SPACE, profile)
print(format_record(record_from_result(result)))
worst = result.worst_outcome
assert worst is not None  # at least one example ran
print(f"worst setting: {setting_to_json(result.worst_setting)}")
print(f"worst outcome: error {worst.error:.2e} vs threshold {worst.threshold:.2e} ({worst.note})")

# %% [markdown]
# A setting is plain JSON: it round-trips through the claim's validation (this is what
# `python -m verify reproduce` does for the registered claims), and a setting outside the
# hypotheses is refused with a message naming the field and the rule.

# %%
again = NULL_SPACE.setting_from_json(setting_to_json(result.worst_setting))
assert again == result.worst_setting
try:
    NULL_SPACE.setting_from_json({"d": 5, "n": 5, "seed": 0, "steps": 3})
except ValueError as exc:  # InputError is a ValueError
    refused = str(exc)
print(refused)

# %% [markdown]
# ## 6. A deliberately broken variant is caught
#
# The wrong closed form "fine-tuning forgets θ_S": the min-norm solution X⁺y, whose
# null-space part is 0. Same setting, strategy and tolerance; only the symbolic side
# changes. The runner fails it, shrinks the counterexample and prints it. (The printed
# `python -m verify reproduce` line works for the claims registered in `verify.registry`;
# a claim defined in a notebook is rerun by calling its `check` on the shrunk setting.)


# %%
def check_forgetful(s: NullSpaceSetting) -> Outcome:
    X, y, _ = s.build()
    return null_space_outcome(s, np.linalg.pinv(X) @ y)


BROKEN = dataclasses.replace(
    NULL_SPACE,
    name="example-broken-forgets-theta-s",
    statement="(wrong on purpose) gradient descent from theta_S ends at X^+ y",
    check=check_forgetful,
)
broken = run_claim(BROKEN, profile)
broken_record = record_from_result(broken)
print(format_record(broken_record))
print(format_record_failure(broken_record))
rerun = BROKEN.check(broken.failing_setting)  # the shrunk setting fails on its own too
print(f"rerun of the shrunk setting: error/threshold = {rerun.ratio:.3g}")

# %% [markdown]
# ## 7. The report: report.json and report.md in a temporary folder
#
# The same writer as `python -m verify --report DIR` (with matplotlib installed it adds
# report-*.png figures: the error/threshold distribution and the coverage map).

# %%
meta = run_metadata(profile.name, result.seed, 1, None, ["example-L1-null-space-kept"])
meta["command"] = "python examples/04_your_own_claim.py"
doc = report_document(meta, [record_from_result(result), broken_record])
out = Path(tempfile.mkdtemp(prefix="finetune-example-report-"))
paths = write_report(doc, out)
print("wrote:", ", ".join(p.name for p in paths), "in", out)
written = json.loads((out / "report.json").read_text())
validate_report(written)
print(
    f"totals: {written['totals']['claims']} claims, {written['totals']['passed']} passed, "
    f"{written['totals']['failed']} failed, {written['totals']['examples']} examples"
)
print("\n".join((out / "report.md").read_text().splitlines()[:10]))  # the table

# %% [markdown]
# ## Checks

# %%
assert result.passed, format_record(record_from_result(result))  # the claim holds
assert result.examples >= 25  # on the quick budget
assert worst.ratio <= 1.0
assert "n must satisfy 1 <= n < d" in refused  # the hypotheses are enforced
assert not broken.passed  # the broken variant is caught ...
assert broken.failing_setting is not None and broken.failing_setting.d <= 5  # ... and shrunk
assert not rerun.passed and math.isfinite(rerun.error)  # a real disagreement, not a crash
assert broken_record.reproduce is not None  # the report carries a rerun command
assert written["totals"] == {**written["totals"], "claims": 2, "passed": 1, "failed": 1}
assert (out / "report.md").exists() and written["complete"] is True
print("all checks passed")
