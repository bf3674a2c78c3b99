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
# # Fine-tuned linear regression and the similarity measure
#
# **What this shows** (docs/theory.md §1, results L1, L2 and L3):
#
# 1. **L1, implicit bias.** Gradient descent on L(θ) = (1/2n)‖Xθ − y‖² started at the
#    pretrained weights θ_S converges to θ_FT = θ_S + X⁺(y − Xθ_S), the interpolant closest
#    to θ_S, and never changes the null-space part (I − P)θ_S. We train with
#    `numeric.linear.fine_tune` and compare with `symbolic.linear.finetuned_weights`.
# 2. **L2, exact risk.** The trained model's excess risk R(θ) = (θ − θ_T)ᵀΣ(θ − θ_T)
#    equals bias + cross + variance of the closed-form decomposition, for an anisotropic Σ
#    and noisy labels.
# 3. **L3, the similarity measure.** For isotropic inputs the expected risk is
#    (1 − n/d)‖θ_S − θ_T‖² (plus σ²n/(d − n − 1) with noise), and training from scratch is
#    the same formula with θ_S = 0, i.e. ‖θ_T‖². So fine-tuning beats training from scratch
#    exactly when ‖Δ‖ < ‖θ_T‖, in expected risk and in samples needed n(ε). A small table
#    over teachers θ_T = αθ_S + εζ shows it, and two Monte Carlo points (200 trained designs
#    each) sit on the closed form.
#
# **What to look at:** the relative gap trained vs closed form (at the optimiser's own
# a-posteriori error bound), the `beats scratch` column against `|Δ| < |θ_T|`, and the
# Monte Carlo z-scores. The last cell asserts all of it, so running this file is a check.

# %%
import math

import numpy as np

import numeric
import symbolic

EPS = float(np.finfo(np.float64).eps)
#: Rounding of the closed form: a backward-stable pseudo-inverse solve loses ~cond(X)·eps,
#: with a safety factor 64 (the same error model as the verifier's L1 claim).
ROUNDING_FACTOR = 64.0
#: A Monte Carlo mean over M independent designs lies within z·s/√M of its expectation;
#: z = 5 has a false-alarm probability of ~6e-7 for a normal mean.
MC_Z = 5.0

rng = np.random.default_rng(20210701)
d, n = 50, 20
cov = numeric.data.cov_from_spectrum(numeric.data.spectrum("power-law", d, 10.0), rng)
theta_s = numeric.data.random_unit_vector(d, rng)  # pretrained weights
theta_t = numeric.data.synthetic_teacher(theta_s, 1.0, 0.5, rng)  # θ_T = θ_S + 0.5ζ
X = numeric.data.sample_inputs(n, d, rng, cov=cov)
y = numeric.data.labels(X, theta_t, 0.1, rng)  # y = Xθ_T + ξ, σ = 0.1
print(
    f"d = {d}, n = {n}, |theta_S| = {np.linalg.norm(theta_s):.3f}, "
    f"|theta_T| = {np.linalg.norm(theta_t):.3f}, cond(X) = {np.linalg.cond(X):.1f}"
)

# %% [markdown]
# ## L1: gradient descent from θ_S lands on the closest interpolant
#
# `fine_tune` runs plain gradient descent with the default step 1/λ_max(XᵀX/n) and reports
# `error_estimate`, an a-posteriori bound on ‖θ − θ_FT‖/‖θ‖ from its final gradient.

# %%
run = numeric.linear.fine_tune(X, y, theta_s)
closed = symbolic.linear.finetuned_weights(X, y, theta_s)
gap_l1 = float(np.linalg.norm(run.theta - closed) / np.linalg.norm(closed))
allowed_l1 = float(run.error_estimate) + ROUNDING_FACTOR * float(np.linalg.cond(X)) * EPS

# The null-space part of θ_S is untouched: (I − P)θ = (I − P)θ_S with P = X⁺X.
P = np.linalg.pinv(X) @ X
null_change = float(np.linalg.norm((np.eye(d) - P) @ (run.theta - theta_s)))
print(
    f"GD steps {int(run.steps)}, |theta_GD - theta_FT|/|theta_FT| = {gap_l1:.2e} "
    f"(allowed {allowed_l1:.2e})"
)
print(
    f"|(I - P)(theta_GD - theta_S)| = {null_change:.2e}; "
    f"|X theta_GD - y| = {np.linalg.norm(X @ run.theta - y):.2e}"
)

# %% [markdown]
# ## L2: the risk of the trained model is the closed-form decomposition
#
# `risk_decomposition(X, y, θ_S, θ_T, Σ)` returns the bias Δᵀ(I − P)Σ(I − P)Δ, the cross
# term and the variance term ξᵀX⁺ᵀΣX⁺ξ for this design and this noise draw.

# %%
terms = symbolic.linear.risk_decomposition(X, y, theta_s, theta_t, cov)
risk_trained = float(numeric.linear.quadratic_risk(run.theta, theta_t, cov))
# R is quadratic in θ: an optimisation error δ moves it by ≤ 2‖Σ(θ − θ_T)‖δ + λ_max(Σ)δ².
delta = allowed_l1 * float(np.linalg.norm(closed))
lam_max = float(np.linalg.eigvalsh(cov)[-1])
allowed_l2 = (
    2.0 * float(np.linalg.norm(cov @ (closed - theta_t))) * delta
    + lam_max * delta**2
    + 1e-12 * max(terms.total, 1.0)  # rounding of sums of <= d^2 products
)
print(
    f"bias {terms.bias:.5f} + cross {terms.cross:+.5f} + variance {terms.variance:.5f} "
    f"= {terms.total:.6f}"
)
print(
    f"trained risk {risk_trained:.6f}, |difference| = {abs(risk_trained - terms.total):.1e} "
    f"(allowed {allowed_l2:.1e})"
)

# %% [markdown]
# ## L3: which similarity predicts fine-tuning, in a table
#
# Isotropic inputs, no noise, d = 50 and n = 20 samples; ε = 0.2 is the target excess risk.
# `E R FT` is (1 − n/d)‖Δ‖², `E R scr` (scratch) is (1 − n/d)‖θ_T‖², and `n_FT`, `n_scr`
# are the smallest sample sizes reaching ε, ⌈d(1 − ε/‖·‖²)⌉ (0 when the start is already
# within ε). The distance to the teacher that matters is ‖θ_S − θ_T‖ compared with ‖θ_T‖
# (the distance from θ = 0): the unnormalised difference, not the angle.

# %%
target_eps = 0.2
teachers = {  # name: (alpha, epsilon) in θ_T = αθ_S + εζ
    "close (1.0, 0.3)": (1.0, 0.3),
    "shrunk (0.5, 0.3)": (0.5, 0.3),
    "rescaled (2.0, 0.0)": (2.0, 0.0),
    "unrelated (0.0, 1.0)": (0.0, 1.0),
    "opposite (-1.0, 0.2)": (-1.0, 0.2),
}
rows = []
teacher_rng = np.random.default_rng(7)
header = (
    f"{'teacher':22} {'|D|^2':>7} {'|tT|^2':>7} {'E R FT':>8} {'E R scr':>8} "
    f"{'n_FT':>5} {'n_scr':>5}  beats scratch"
)
print(header)
for name, (alpha, spread) in teachers.items():
    tt = numeric.data.synthetic_teacher(theta_s, alpha, spread, teacher_rng)
    delta_sq = float(np.sum((theta_s - tt) ** 2))
    tt_sq = float(np.sum(tt**2))
    risk_ft = symbolic.linear.expected_risk_isotropic(delta_sq, n=n, d=d)
    risk_sc = symbolic.linear.expected_risk_isotropic(tt_sq, n=n, d=d)
    n_ft = symbolic.linear.sample_complexity(delta_sq, d=d, epsilon=target_eps)
    n_sc = symbolic.linear.sample_complexity(tt_sq, d=d, epsilon=target_eps)
    rows.append((name, tt, delta_sq, tt_sq, risk_ft, risk_sc, n_ft, n_sc))
    print(
        f"{name:22} {delta_sq:7.3f} {tt_sq:7.3f} {risk_ft:8.4f} {risk_sc:8.4f} "
        f"{n_ft:5d} {n_sc:5d}  {risk_ft < risk_sc}"
    )

# %% [markdown]
# ### Trained Monte Carlo points
#
# `numeric.linear.expected_risk_mc` draws 200 isotropic designs, trains each by gradient
# descent from θ_S (and from θ = 0 for scratch) and averages the risk. The first point adds
# label noise (σ² = 0.01), where L3 adds σ²n/(d − n − 1).

# %%
mc_rows: list[tuple[str, str, float, float, float, float]] = []
for name, noise_std in (("close (1.0, 0.3)", 0.1), ("unrelated (0.0, 1.0)", 0.0)):
    tt = next(r[1] for r in rows if r[0] == name)
    for start_name, start in (("fine-tune", theta_s), ("scratch", np.zeros(d))):
        dist_sq = float(np.sum((start - tt) ** 2))
        want = symbolic.linear.expected_risk_isotropic(dist_sq, n=n, d=d, noise_var=noise_std**2)
        est = numeric.linear.expected_risk_mc(
            start,
            tt,
            n,
            np.random.default_rng([11, len(mc_rows)]),
            noise_std=noise_std,
            designs=200,
        )
        z = (est.mean - want) / est.stderr
        mc_rows.append((name, start_name, want, est.mean, est.stderr, z))
        print(
            f"{name:22} {start_name:9} closed form {want:.4f}  trained {est.mean:.4f} "
            f"+- {est.stderr:.4f}  (z = {z:+.2f})"
        )

# %% [markdown]
# ## Checks
#
# Each line is one statement of the notebook; running the file fails on the first that
# does not hold.

# %%
assert run.all_converged
assert gap_l1 <= allowed_l1, (gap_l1, allowed_l1)  # L1: GD from θ_S reaches θ_FT
assert null_change <= allowed_l1 * float(np.linalg.norm(closed))  # (I − P)θ_S kept
assert abs(risk_trained - terms.total) <= allowed_l2  # L2 on the trained model
for name, _tt, delta_sq, tt_sq, risk_ft, risk_sc, n_ft, n_sc in rows:
    closer = math.sqrt(delta_sq) < math.sqrt(tt_sq)
    assert (risk_ft < risk_sc) == closer, name  # L3: beats scratch iff |Δ| < |θ_T|
    # n(ε) = ⌈d(1 − ε/‖·‖²)⌉ is non-decreasing in ‖·‖²: the closer start needs no more samples
    assert n_ft <= n_sc if delta_sq <= tt_sq else n_ft >= n_sc, name
assert any(r[4] < r[5] for r in rows) and any(r[4] > r[5] for r in rows)  # both cases shown
for *_, z in mc_rows:
    assert abs(z) <= MC_Z, mc_rows  # trained Monte Carlo on the L3 closed form
print("all checks passed")
