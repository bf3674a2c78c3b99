"""Mutants of relu_ntk (see verify.mutants)."""

from __future__ import annotations

from verify.mutants import Mutant

_SYM = "symbolic/relu_ntk.py"
_NUM = "numeric/relu_ntk.py"

_PSI_LINE = "psi[start : start + rows] = 2.0 * np.arctan2(plus, minus)"

MUTANTS: tuple[Mutant, ...] = (
    # ---------------------------------------------------------------- K1: angles, kernels
    Mutant(
        "K1-psi-subtraction",
        _SYM,
        _PSI_LINE,
        "psi[start : start + rows] = np.pi - theta[start : start + rows]",
        "supplementary angle psi = pi - theta by subtraction instead of 2atan2(|x+z|, |x-z|): "
        "absolute error of a few ulp, relative accuracy lost as theta -> pi",
        catch=("K1-kernel-quadrature",),
        planted=True,
    ),
    Mutant(
        "K1-psi-arccos",
        _SYM,
        _PSI_LINE,
        "psi[start : start + rows] = np.pi - np.arccos(np.clip(np.einsum("
        '"ijk,ijk->ij", block, Za[None, :, :]) / (nx * zn[None, :]), -1.0, 1.0))',
        "textbook angle pi - arccos(x.z/(|x||z|)): ~1e-8 absolute error near u = +-1",
        catch=("K1-kernel-quadrature",),
    ),
    Mutant(
        "K1-orthant-theta-swap",
        _SYM,
        "return _orthant_psi(psi)",
        "return _orthant_psi(np.pi - psi)",
        "orthant_probability returns theta/(2pi) instead of (pi - theta)/(2pi)",
        catch=("K1-monte-carlo-rate", "K1-empirical-ntk-width"),
    ),
    Mutant(
        "K1-ntk-orthant-over-pi",
        _SYM,
        "(Xa @ Za.T) * _orthant_psi(psi) + np.outer(xn, zn) * _relu_expectation_psi(psi),",
        "(Xa @ Za.T) * (psi / np.pi) + np.outer(xn, zn) * _relu_expectation_psi(psi),",
        "full_ntk's first-layer term u(pi - theta)/(2pi) -> u(pi - theta)/pi",
        catch=("K1-kernel-quadrature", "K1-monte-carlo-rate"),
        planted=True,
    ),
    Mutant(
        "K1-nngp-sin-dropped",
        _SYM,
        "return (np.sin(psi) - psi * np.cos(psi)) / (2 * np.pi)",
        "return (-psi * np.cos(psi)) / (2 * np.pi)",
        "E[relu relu] loses its sin(theta)/(2pi) term (direct branch, psi >= 1)",
        catch=("K1-kernel-quadrature", "K1-monte-carlo-rate"),
    ),
    Mutant(
        "K1-normalize-keeps-norms",
        _SYM,
        "return Xa, np.ones_like(norms)",
        "return Xa, norms",
        "normalize=True divides the rows but still reports their original norms, so "
        "nngp_gram / full_ntk of the projected rows are scaled by |x||z| (the Kahan angle "
        "is invariant to the common factor and first_layer_ntk is unchanged)",
        catch=("K1-kernel-quadrature",),
    ),
    # ---------------------------------------------------------------- K2 / K3 closed forms
    Mutant(
        "K2-quadratic-form-multiply",
        _SYM,
        "return float(np.sum(factor * proj * proj))",
        "return float(np.sum(proj * proj / factor))",
        "kernel_norm_sq computes r^T K r instead of r^T K^-1 r (multiplies instead of solves)",
        catch=("K2-linear-teacher-norm", "K3-distance-travelled"),
    ),
    Mutant(
        "K3-predictor-transpose",
        _SYM,
        "coef = vec @ (factor * (vec.T @ res))",
        "coef = vec.T @ (factor * (vec @ res))",
        "predictor_from_gram applies the eigenbasis transposed (V^T phi V r for V phi V^T r)",
        catch=("K3-predictor-width",),
    ),
    Mutant(
        "K3-flow-time-missing-n",
        _SYM,
        "x = lam * t / n",
        "x = lam * t",
        "gradient-flow predictor (I - exp(-Kt/n))K^-1 loses the 1/n: exp(-Kt)",
        catch=("K3-predictor-width",),
        planted=True,
    ),
    Mutant(
        "K3-distance-labels",
        _SYM,
        "q, e = _kernel_norm_parts(Xa, res, layers=layers, ridge=ridge)",
        'q, e = _kernel_norm_parts(Xa, checks.as_vector(y, "y"), layers=layers, ridge=ridge)',
        "distance_travelled uses the labels y instead of the residual y - f_S(X)",
        catch=("K3-distance-travelled",),
    ),
    Mutant(
        "K3-generalization-d-for-n",
        _SYM,
        "term = float(_form_generalization_term(max(q, 0.0), Xa.shape[0]))",
        "term = float(_form_generalization_term(max(q, 0.0), Xa.shape[1]))",
        "generalization_term divides by d (columns) instead of n: sqrt(2Q/d)",
        catch=("K3-source-distance",),
    ),
    Mutant(
        "K3-teacher-bound-sqrt2",
        _SYM,
        "return 2 * _sqrt(2 * _one(n)) * delta_norm / _sqrt(n)",
        "return 2 * delta_norm / _sqrt(n)",
        "linear_teacher_bound 2sqrt(2)|dtheta|/sqrt(n) -> 2|dtheta|/sqrt(n) (sqrt(2Q/n) -> "
        "sqrt(Q/n))",
        catch=("K3-source-distance",),
        planted=True,
    ),
    # ---------------------------------------------------------------- numeric
    Mutant(
        "K1-mc-stderr-no-sqrtM",
        _NUM,
        "stderr = np.asarray(np.sqrt(var / M), dtype=np.float64)",
        "stderr = np.asarray(np.sqrt(var), dtype=np.float64)",
        "monte_carlo_gram's standard error is the per-draw sd s, not s/sqrt(M)",
        catch=("K1-monte-carlo-rate",),
        planted=True,
    ),
    Mutant(
        "K1-nn-empirical-ntk-no-m",
        _NUM,
        "gram = (Xa @ Za.T) * (ax @ az.T) / m",
        "gram = (Xa @ Za.T) * (ax @ az.T)",
        "empirical_ntk first-layer part misses the 1/m",
        catch=("K1-empirical-ntk-width",),
    ),
    Mutant(
        "K3-nn-stability-limit-half",
        _NUM,
        "return 2.0 * float(Xa.shape[0]) / top",
        "return float(Xa.shape[0]) / top",
        "stability_limit n/lambda_max instead of 2n/lambda_max (Hessian taken for the loss "
        "(1/n)|f - y|^2): default step halved, valid steps rejected",
        catch=("K3-predictor-width", "K3-distance-travelled"),
        planted=True,
    ),
    Mutant(
        "K3-nn-forward-no-sqrtm",
        _NUM,
        "return np.maximum(pre, 0.0) @ a / np.sqrt(Wt.shape[1]), pre",
        "return np.maximum(pre, 0.0) @ a, pre",
        "network output misses the 1/sqrt(m) NTK scaling",
        catch=("K3-distance-travelled", "K3-predictor-width"),
    ),
    Mutant(
        "K3-nn-gradient-no-n",
        _NUM,
        "grad = (Xt @ masked) * (a / (n * np.sqrt(m)))",
        "grad = (Xt @ masked) * (a / np.sqrt(m))",
        "loss gradient of (1/2)|f - y|^2 instead of (1/2n)|f - y|^2 (factor n too large)",
        catch=("K3-distance-travelled", "K3-predictor-width"),
    ),
    Mutant(
        "K-nn-init-not-antisymmetric",
        _NUM,
        "return TwoLayerNet(np.vstack([W, W]), np.concatenate([a, -a]))",
        "return TwoLayerNet(np.vstack([W, W]), np.concatenate([a, a]))",
        "symmetric initialisation duplicates (w_r, a_r) instead of pairing it with "
        "(w_r, -a_r): f at init is 2x a random network, not 0",
        catch=("K3-predictor-width", "K3-distance-travelled"),
    ),
    Mutant(
        "K3-nn-transfer-from-init",
        _NUM,
        "source.network, Xt, y, None, rtol, max_steps, strict",
        "source.initial, Xt, y, None, rtol, max_steps, strict",
        "transfer fine-tunes from the random initialisation instead of the pretrained network",
        catch=("K3-source-distance",),
    ),
    Mutant(
        "K3-nn-population-risk-rms",
        _NUM,
        "return MonteCarloEstimate(risk, stderr, m)",
        "return MonteCarloEstimate(math.sqrt(risk), stderr, m)",
        "population_risk_mc returns the RMS error sqrt(E(f - y)^2) instead of the MSE",
        catch=("K3-source-distance",),
    ),
)
