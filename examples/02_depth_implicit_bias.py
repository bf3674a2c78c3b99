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
# # Depth and the implicit bias of fine-tuning a deep linear network
#
# **What this shows** (docs/theory.md §2, results D2–D5):
#
# 1. **D2–D3, the implicit bias.** A depth-N linear network f(x) = W_N⋯W_1x, started
#    from balanced weights whose end-to-end vector is θ_S (`numeric.deep_linear.
#    balanced_weights`) and trained on all layers by gradient flow
#    (`numeric.deep_linear.fine_tune`), converges to w_∞ = X⁺y + c(I − P)θ_S, where c is the
#    positive root of ‖θ_S‖²c^{2N/(N−1)} − ‖(I − P)θ_S‖²c² = ‖X⁺y‖²
#    (`symbolic.deep_linear.finetuned_end_to_end`, `scale_factor`). Depth acts only through
#    the scale c of the null-space part; N = 1 is linear regression (c = 1).
# 2. **D4, infinite depth.** c_N → c_∞ = ‖X⁺y‖/‖Pθ_S‖ like c_∞ + K/(N − 1): only the
#    direction of θ_S matters in the limit.
# 3. **D4/D5, aligned teachers θ_T = αθ_S.** The risk is (c − α)²‖(I − P)θ_S‖². For α > 0
#    depth helps and the infinitely deep network recovers θ_T (c_∞ = α); α = 1 is depth
#    neutral; for α < 0, c_∞ = |α| and recovery fails (for α = −2 depth even hurts).
#
# **What to look at:** the `gap` column (trained against closed form, relative, at the
# flow's own error estimate), the `c trained` column (the null-space scale read off the
# trained network) against `c`, the column (N − 1)(c_N − c_∞) approaching K, and the risk
# table of the aligned teachers. The last cell asserts all of it.

# %%
import itertools
import math

import numpy as np

import numeric
import symbolic

EPS = float(np.finfo(np.float64).eps)
#: The adaptive flow reports an estimate of its own error; the closed form must lie within
#: 10x that estimate plus a floor 1e-10 + 1e-13·cond(X) relative (the closed form's
#: rounding through X⁺) -- the error model of the verifier's claim D3-flow-limit.
FLOW_FACTOR = 10.0
FLOW_FLOOR = 1e-10
COND_FLOOR = 1e-13
#: (N − 1)·|(N − 1)(c_N − c_∞) − K| tends to a constant |L|; between N = 20 and N = 50 it may
#: change by the next-order terms, O(1/N) relative: a factor 2 is generous.
RATE_FACTOR = 2.0


def flow_allowance(run: numeric.deep_linear.DeepResult, cond: float) -> float:
    """Allowed relative gap between a trained end-to-end vector and the closed form."""
    estimate = run.error_estimate
    assert estimate is not None, run.method  # the adaptive flow always estimates its error
    return FLOW_FACTOR * float(estimate) + FLOW_FLOOR + COND_FLOOR * cond


rng = np.random.default_rng(2021)
d, n, hidden = 40, 12, 8
theta_s = numeric.data.random_unit_vector(d, rng)
theta_t = numeric.data.synthetic_teacher(theta_s, 1.5, 0.3, rng)  # θ_T = 1.5θ_S + 0.3ζ
X = numeric.data.sample_inputs(n, d, rng)
y = X @ theta_t
cond_x = float(np.linalg.cond(X))
P = np.linalg.pinv(X) @ X  # projector on the row space of X
null_s = (np.eye(d) - P) @ theta_s  # (I − P)θ_S, the part of θ_S the data cannot see
print(f"d = {d}, n = {n}, hidden width {hidden}, |(I - P) theta_S|^2 = {null_s @ null_s:.3f}")

# %% [markdown]
# The scalar equation for c, as SymPy derives it from the end-to-end dynamics D1 (with
# A = ‖θ_S‖², B = ‖(I − P)θ_S‖², C = ‖X⁺y‖² and s = c^{2/(N−1)}):

# %%
print(symbolic.deep_linear.derive_implicit_bias().polynomial, "= 0")

# %% [markdown]
# ## D3: trained networks of several depths against the closed form

# %%
depths = (1, 2, 3, 5, 8, 20, 50)
c_inf = symbolic.deep_linear.scale_factor(X, y, theta_s, math.inf)
K = symbolic.deep_linear.scale_factor_limit_coefficient(X, y, theta_s)
print(
    f"{'N':>3} {'method':16} {'gap':>9} {'allowed':>9} {'c':>8} {'c trained':>10} "
    f"{'(N-1)(c-c_inf)':>15}"
)
d3_rows = []
for N in depths:
    weights = numeric.deep_linear.balanced_weights(theta_s, [d] + [hidden] * (N - 1) + [1], rng)
    run = numeric.deep_linear.fine_tune(X, y, weights)
    closed = symbolic.deep_linear.finetuned_end_to_end(X, y, theta_s, N)
    c = symbolic.deep_linear.scale_factor(X, y, theta_s, N)
    w = run.end_to_end
    gap = float(np.linalg.norm(w - closed) / np.linalg.norm(closed))
    c_trained = float(((np.eye(d) - P) @ w) @ null_s / (null_s @ null_s))
    approach = (N - 1) * (c - c_inf)
    d3_rows.append((N, run, gap, flow_allowance(run, cond_x), c, c_trained, approach))
    print(
        f"{N:3d} {run.method:16} {gap:9.2e} {d3_rows[-1][3]:9.2e} {c:8.5f} {c_trained:10.5f} "
        f"{approach:15.5f}"
    )
print(f"inf {'closed form':16} {'':9} {'':9} {c_inf:8.5f} {'':10} {'K = ' + f'{K:.5f}':>15}")

# %% [markdown]
# The default flow integrates the balanced chain on its invariant set (the width-one
# chain, `reduced/…`). The same limit comes out of a flow on all full layer matrices:

# %%
weights = numeric.deep_linear.balanced_weights(theta_s, [d, 16, 16, 1], rng)
full_run = numeric.deep_linear.fine_tune(X, y, weights, reduce=False)
full_closed = symbolic.deep_linear.finetuned_end_to_end(X, y, theta_s, 3)
full_gap = float(np.linalg.norm(full_run.end_to_end - full_closed) / np.linalg.norm(full_closed))
print(
    f"N = 3, widths 16: {full_run.method}, gap {full_gap:.2e} "
    f"(allowed {flow_allowance(full_run, cond_x):.2e})"
)

# %% [markdown]
# ## D4/D5: aligned teachers θ_T = αθ_S (no noise)
#
# Risk R(w_∞) = ‖w_∞ − θ_T‖² (isotropic Σ) of the trained network at depths 1, 2, 8 and
# 50, the closed form `finetuned_risk` at N = ∞, and c_∞. Rows α = 2 and 0.5 fall to 0
# with depth; α = 1 is 0 at every depth; α = −0.5 improves with depth but stalls at
# (0.5 + 0.5)²‖(I − P)θ_S‖²; α = −2 gets worse with depth.

# %%
alphas = (2.0, 0.5, 1.0, -0.5, -2.0)
risk_depths = (1, 2, 8, 50)
print(
    f"{'alpha':>6} "
    + " ".join(f"{'R(N=' + str(N) + ')':>10}" for N in risk_depths)
    + f" {'R(inf)':>10} {'c_inf':>7}"
)
d5_rows = []
for alpha in alphas:
    tt = alpha * theta_s
    ya = X @ tt
    trained, closed_r, allowed_r, formula = [], [], [], []
    for N in risk_depths:
        weights = numeric.deep_linear.balanced_weights(theta_s, [d] + [6] * (N - 1) + [1], rng)
        run = numeric.deep_linear.fine_tune(X, ya, weights)
        w = run.end_to_end
        trained.append(float(numeric.linear.quadratic_risk(w, tt)))
        closed_r.append(symbolic.deep_linear.finetuned_risk(X, ya, theta_s, tt, N))
        c = symbolic.deep_linear.scale_factor(X, ya, theta_s, N)
        formula.append((c - alpha) ** 2 * float(null_s @ null_s))  # D5: (c − α)²Q
        # R is quadratic in w: a gap δ in w moves it by at most 2‖w − θ_T‖δ + δ².
        delta = flow_allowance(run, cond_x) * float(np.linalg.norm(w))
        allowed_r.append(2.0 * float(np.linalg.norm(w - tt)) * delta + delta**2)
    r_inf = symbolic.deep_linear.finetuned_risk(X, ya, theta_s, tt, math.inf)
    c_inf_a = symbolic.deep_linear.scale_factor(X, ya, theta_s, math.inf)
    d5_rows.append((alpha, trained, closed_r, allowed_r, formula, r_inf, c_inf_a))
    print(
        f"{alpha:6.1f} " + " ".join(f"{r:10.5f}" for r in trained) + f" {r_inf:10.2e} "
        f"{c_inf_a:7.4f}"
    )

# %% [markdown]
# ## Checks

# %%
for N, run, gap, allowed, c, c_trained, _ in d3_rows:
    assert run.converged, N
    assert gap <= allowed, (N, gap, allowed)  # D3: trained = X⁺y + c(I − P)θ_S
    assert abs(c_trained - c) <= allowed * float(np.linalg.norm(run.end_to_end)) / math.sqrt(
        float(null_s @ null_s)
    ), N  # the trained null-space part is c(I − P)θ_S
assert d3_rows[0][4] == 1.0  # N = 1: linear regression
cs = [row[4] for row in d3_rows]
assert all(a < b for a, b in itertools.pairwise(cs)) and cs[-1] < c_inf  # c_N ↑ c_∞
# D4: (N − 1)(c_N − c_∞) = K + L/(N − 1) + O(1/N²): its distance to K shrinks like 1/(N − 1)
# from N = 20 to N = 50, within RATE_FACTOR (the O(1/N²) terms at N = 20 are ~1/19 of it).
gap_20 = abs(next(r[6] for r in d3_rows if r[0] == 20) - K) * 19
gap_50 = abs(d3_rows[-1][6] - K) * 49
assert 1.0 / RATE_FACTOR <= gap_50 / gap_20 <= RATE_FACTOR, (gap_20, gap_50)
assert full_gap <= flow_allowance(full_run, cond_x)  # the full-matrix flow agrees too
for alpha, trained, closed_r, allowed_r, formula, r_inf, c_inf_a in d5_rows:
    for r_tr, r_cl, r_ok, r_f in zip(trained, closed_r, allowed_r, formula, strict=True):
        assert abs(r_tr - r_cl) <= r_ok + 1e-12, alpha  # trained risk = closed form
        assert abs(r_cl - r_f) <= 1e-10 * max(r_f, 1.0), alpha  # = (c − α)²‖(I − P)θ_S‖²
    assert abs(c_inf_a - abs(alpha)) <= 1e-12 * abs(alpha)  # D4: c_∞ = |α|
    if alpha == 1.0:
        assert max(closed_r) <= 1e-20  # depth neutral: θ_T = θ_S is recovered at every depth
    elif alpha > 0:
        assert all(a > b for a, b in itertools.pairwise(trained))  # depth helps
        assert r_inf <= 1e-20  # and N = ∞ recovers θ_T
    else:
        assert r_inf >= 3.9 * alpha**2 * float(null_s @ null_s)  # (|α| − α)²Q = 4α²Q: fails
by_alpha = {row[0]: row[1] for row in d5_rows}
assert by_alpha[-2.0][-1] > by_alpha[-2.0][0]  # for α = −2, depth hurts
print("all checks passed")
