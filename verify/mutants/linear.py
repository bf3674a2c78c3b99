"""Mutants of the linear-regression formulas and trainers (see verify.mutants)."""

from __future__ import annotations

from verify.mutants import Mutant

MUTANTS: tuple[Mutant, ...] = (
    # ----------------------------------------------------------------------------------
    # symbolic/linear.py — L1 (implicit bias, GD trajectory)
    # ----------------------------------------------------------------------------------
    Mutant(
        "L1-gd-factor-exponent",
        "symbolic/linear.py",
        "return e0 + (steady - e0) * _gd_progress(eta * mu, k)",
        "return e0 + (steady - e0) * _gd_progress(eta * mu, k + 1)",
        "GD row-space transient (1 - eta mu)^k -> (1 - eta mu)^(k+1) (off-by-one step count)",
        catch=("L1-gd-trajectory",),
        planted=True,
    ),
    Mutant(
        "L1-gd-factor-half-step",
        "symbolic/linear.py",
        "return e0 + (steady - e0) * _gd_progress(eta * mu, k)",
        "return e0 + (steady - e0) * _gd_progress(eta * mu / 2, k)",
        "GD contraction factor (1 - eta mu) -> (1 - eta mu/2) (gradient of (1/n)|r|^2 vs "
        "(1/2n)|r|^2 convention mixed up)",
        catch=("L1-gd-trajectory",),
    ),
    Mutant(
        "L1-stability-limit-one",
        "symbolic/linear.py",
        "    limit = 2.0 / mu_max\n",
        "    limit = 1.0 / mu_max\n",
        "GD stability limit 2/mu_max -> 1/mu_max (the default step mistaken for the limit)",
        catch=("L1-gd-trajectory",),
        planted=True,
    ),
    Mutant(
        "L1-stability-limit-four",
        "symbolic/linear.py",
        "    limit = 2.0 / mu_max\n",
        "    limit = 4.0 / mu_max\n",
        "GD stability limit 2/mu_max -> 4/mu_max (eigenvalue of X^T X/(2n) used)",
        catch=("L1-gd-trajectory",),
        planted=True,
    ),
    Mutant(
        "L1-stability-limit-per-d",
        "symbolic/linear.py",
        "mu_max = float(np.linalg.norm(Xu, 2) ** 2 / Xu.shape[0])",
        "mu_max = float(np.linalg.norm(Xu, 2) ** 2 / Xu.shape[1])",
        "stability limit from the eigenvalues of X^T X/d instead of X^T X/n (1/d for 1/n)",
        catch=("L1-gd-trajectory",),
        planted=True,
    ),
    Mutant(
        "L1-finetuned-forgets-source-fit",
        "symbolic/linear.py",
        "correction, *_ = np.linalg.lstsq(Xa, ya - Xa @ ts, rcond=None)",
        "correction, *_ = np.linalg.lstsq(Xa, ya, rcond=None)",
        "theta_FT = theta_S + X^+(y - X theta_S) -> theta_S + X^+ y (residual of theta_S "
        "not subtracted)",
        catch=("L1-gd-limit", "L-exact-cases"),
    ),
    # ----------------------------------------------------------------------------------
    # symbolic/linear.py — L2 (exact risk for one design)
    # ----------------------------------------------------------------------------------
    Mutant(
        "L2-cross-missing-factor-2",
        "symbolic/linear.py",
        "cross=_quad(2.0 * resid, sig, lifted,",
        "cross=_quad(resid, sig, lifted,",
        "cross term 2 Delta^T (I-P) Sigma X^+ xi loses its factor 2",
        catch=("L2-risk-decomposition",),
    ),
    Mutant(
        "L2-terms-wrong-projector",
        "symbolic/linear.py",
        "resid = du - pinv @ (Xu @ du)  # (I − P)Δ",
        "resid = pinv @ (Xu @ du)  # (I − P)Δ",
        "risk_decomposition uses P Delta where (I - P) Delta is meant (wrong projector)",
        catch=("L2-risk-decomposition", "L-exact-cases"),
    ),
    Mutant(
        "L2-noise-variance-drops-cov",
        "symbolic/linear.py",
        "variance = _noise_trace(s2, pinv, sig, -2 * ex,",
        "variance = _noise_trace(s2, pinv, np.eye(d), -2 * ex,",
        "expected_risk_given_design: variance sigma^2 tr(X^+T Sigma X^+) -> sigma^2 tr(X^+T X^+) "
        "(Sigma dropped)",
        catch=("L2-noise-average",),
    ),
    Mutant(
        "L2-excess-risk-ignores-cov",
        "symbolic/linear.py",
        "sig = np.eye(th.shape[0]) if cov is None else checks.as_cov(cov, th.shape[0])",
        "sig = np.eye(th.shape[0])",
        "excess_risk ignores cov: |theta - theta_T|^2 instead of (theta - theta_T)^T Sigma (...)",
        catch=(),
    ),
    # ----------------------------------------------------------------------------------
    # symbolic/linear.py — L3 (isotropic expected risk), sample complexity
    # ----------------------------------------------------------------------------------
    Mutant(
        "L3-variance-dof",
        "symbolic/linear.py",
        "return (1 - n / d) * delta_sq + noise_var * n / (d - n - 1)",
        "return (1 - n / d) * delta_sq + noise_var * n / (d - n)",
        "L3 variance term n/(d - n - 1) -> n/(d - n) (one degree of freedom lost)",
        catch=("L3-expected-risk",),
        planted=True,
    ),
    Mutant(
        "L3-over-dof",
        "symbolic/linear.py",
        "return noise_var * d / (n - d - 1)",
        "return noise_var * d / (n - d)",
        "L3 least-squares branch (n >= d + 2) d/(n - d - 1) -> d/(n - d)",
        catch=("L3-expected-risk",),
    ),
    Mutant(
        "L3-noiseless-bias-ratio-inverted",
        "symbolic/linear.py",
        "return float(max(0.0, 1.0 - n / d) * D)",
        "return float(max(0.0, 1.0 - d / n) * D)",
        "noiseless L3 bias (1 - n/d)|Delta|^2 -> (1 - d/n)|Delta|^2 (n/d and d/n swapped, "
        "gamma vs 1/gamma)",
        catch=("L3-expected-risk", "L-exact-cases"),
        planted=True,
    ),
    Mutant(
        "L-sample-complexity-floor",
        "symbolic/linear.py",
        "return max(0, math.ceil(raw))",
        "return max(0, math.floor(raw))",
        "sample_complexity rounds n(eps) = d(1 - eps/|Delta|^2) down instead of up (the "
        "returned n then misses the target risk)",
        catch=(),
        planted=True,
    ),
    # ----------------------------------------------------------------------------------
    # symbolic/linear.py — L4 (HMRT asymptotics)
    # ----------------------------------------------------------------------------------
    Mutant(
        "L4-c0-fixed-point-target",
        "symbolic/linear.py",
        "    target = 1.0 / gam\n",
        "    target = 1.0 - 1.0 / gam\n",
        "HMRT fixed point mean 1/(1 + c0 gamma lambda) = 1 - 1/gamma -> = 1/gamma "
        "(n/d in place of 1 - n/d; in the code's form mean u lambda/(1 + u lambda) = 1/gamma, "
        "u = c0 gamma, the target 1/gamma becomes 1 - 1/gamma)",
        catch=("L4-asymptotic-risk",),
    ),
    Mutant(
        "L4-factor-drops-gamma",
        "symbolic/linear.py",
        "factor = u * a_mean / bq_mean",
        "factor = u / gam * a_mean / bq_mean",
        "HMRT variance factor gamma c0 A/Bq loses its gamma",
        catch=("L4-asymptotic-risk",),
    ),
    # ----------------------------------------------------------------------------------
    # numeric/linear.py — trainers and Monte Carlo
    # ----------------------------------------------------------------------------------
    Mutant(
        "L-numeric-gradient-per-d",
        "numeric/linear.py",
        "grad = (resid[..., None, :] @ Xa)[..., 0, :] / n",
        "grad = (resid[..., None, :] @ Xa)[..., 0, :] / Xa.shape[-1]",
        "loss gradient X^T(X theta - y)/n -> X^T(X theta - y)/d (1/d for 1/n)",
        catch=("L1-gd-trajectory", "L1-gd-limit"),
    ),
    Mutant(
        "L-numeric-gd-ascent",
        "numeric/linear.py",
        "theta = theta - np.where(active[..., None], eta[..., None] * grad, 0.0)",
        "theta = theta + np.where(active[..., None], eta[..., None] * grad, 0.0)",
        "GD update theta - eta grad -> theta + eta grad (sign)",
        catch=("L1-gd-trajectory", "L1-gd-limit"),
    ),
    Mutant(
        "L-mc-stderr-no-sqrt-m",
        "numeric/linear.py",
        "se = float(np.std(unit, ddof=1) / np.sqrt(m)) * top",
        "se = float(np.std(unit, ddof=1)) * top",
        "MonteCarloEstimate.stderr is the sample SD s, not s/sqrt(M) (expected_risk_mc, "
        "population_risk_mc)",
        catch=(),
        planted=True,
    ),
    # ----------------------------------------------------------------------------------
    # numeric/data.py — inputs, teachers, labels
    # ----------------------------------------------------------------------------------
    Mutant(
        "L-data-label-noise-variance",
        "numeric/data.py",
        "clean + sd * as_generator(rng).standard_normal(clean.shape)",
        "clean + sd**2 * as_generator(rng).standard_normal(clean.shape)",
        "labels scale the noise by sigma^2 instead of sigma (std and variance confused)",
        catch=("L3-expected-risk", "L4-asymptotic-risk"),
    ),
    Mutant(
        "L-data-inputs-cov-not-root",
        "numeric/data.py",
        "root = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T",
        "root = (v * np.clip(w, 0.0, None)) @ v.T",
        "sample_inputs multiplies by Sigma instead of Sigma^(1/2) (inputs get covariance Sigma^2)",
        catch=("L4-asymptotic-risk",),
    ),
    Mutant(
        "L-data-cov-sqrt-spectrum",
        "numeric/data.py",
        "cov = (v * lam) @ v.T",
        "cov = (v * np.sqrt(lam)) @ v.T",
        "cov_from_spectrum builds V diag(sqrt(lambda)) V^T (eigenvalues treated as "
        "standard deviations)",
        catch=("L2-noise-average", "L2-risk-decomposition"),
    ),
    Mutant(
        "L-data-teacher-alpha-epsilon-swapped",
        "numeric/data.py",
        "np.asarray(a * ts + e * zeta, dtype=np.float64)",
        "np.asarray(e * ts + a * zeta, dtype=np.float64)",
        "synthetic_teacher returns eps theta_S + alpha zeta instead of alpha theta_S + eps zeta",
        catch=("L3-expected-risk",),
    ),
)
