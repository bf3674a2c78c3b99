"""Mutants of deep_linear (see verify.mutants).

One-line bugs in the closed forms of ``symbolic/deep_linear.py`` (D1 velocity, the D3 scalar
equation and its branches, D4's rate constant, D5's risk, D6's floor, Q_N) and in the
trainers of ``numeric/deep_linear.py`` and ``numeric/_deep_flow.py`` (layer gradients, GD,
RK4, the balanced factorisation, the width-one reduction, the adaptive flow's error report).
"""

from __future__ import annotations

from verify.mutants import Mutant

_SDL = "symbolic/deep_linear.py"
_NDL = "numeric/deep_linear.py"
_FLOW = "numeric/_deep_flow.py"

MUTANTS: tuple[Mutant, ...] = (
    # ---------------------------------------------------------------- planted (power audit)
    Mutant(
        "D1-rk4-stage-slope",
        _NDL,
        "k3 = _factored_pass(ws, X, y, mask, h / 2, k2)[0]",
        "k3 = _factored_pass(ws, X, y, mask, h / 2, k1)[0]",
        "RK4 stage k3 evaluated from k1 instead of k2 (k3 = k2): the fixed-step integrator "
        "drops to order 2",
        catch=("D1-balance-conserved",),
        planted=True,
    ),
    Mutant(
        "D3-rootof-exponent",
        _SDL,
        "return sp.Pow(roots[-1], sp.Rational(depth - 1, 2))",
        "return sp.Pow(roots[-1], sp.Rational(depth + 1, 2))",
        "scale_factor_rootof returns s^((N+1)/2) instead of c = s^((N-1)/2) (the exponent "
        "2N/(N-1) of the scalar equation read as 2N/(N+1))",
        catch=("D3-flow-limit",),
        planted=True,
    ),
    Mutant(
        "D3-B0-branch-exponent",
        _SDL,
        "return L / (1.0 + eps)",
        "return L * (1.0 + eps)",
        "B = 0 branch of the scale factor: c = k^(N/(2(N-1))) instead of k^((N-1)/(2N)) "
        "(exponent inverted)",
        catch=("D3-flow-limit",),
        planted=True,
    ),
    Mutant(
        "D1-velocity-depth-term",
        _SDL,
        "(gs + (depth - 1) * what * (what @ gs))",
        "(gs + depth * what * (what @ gs))",
        "end_to_end_velocity: the (N - 1) w^ w^T g term with N instead of N - 1",
        catch=("D1-one-step",),
        planted=True,
    ),
    Mutant(
        "D3-equation-exponent",
        _SDL,
        "eps = 1 / (depth - 1)  # int / int",
        "eps = 1 / depth  # int / int",
        "scalar equation solved with c^(2 + 2/N) = c^(2(N+1)/N) instead of c^(2N/(N-1)) "
        "(eps = 1/N for 1/(N-1); the B = 0 branch follows the wrong equation too)",
        catch=("D3-flow-limit", "D4-depth-limit"),
        planted=True,
    ),
    Mutant(
        "D3-rootof-wrong-root",
        _SDL,
        "return sp.Pow(roots[-1], sp.Rational(depth - 1, 2))",
        "return sp.Pow(roots[0], sp.Rational(depth - 1, 2))",
        "scale_factor_rootof takes the smallest real root of A s^N - B s^(N-1) - C (negative "
        "for even N) instead of the largest, positive one",
        catch=("D3-flow-limit",),
        planted=True,
    ),
    # ---------------------------------------------------------------- closed forms
    Mutant(
        "D3-drop-pinv-y",
        _SDL,
        "w = part_y + part_null",
        "w = part_null",
        "finetuned_end_to_end drops the X^+y part: w = c(I - P)theta_S",
        catch=("D3-flow-limit", "D5-aligned-teacher"),
    ),
    Mutant(
        "D3-null-uses-P",
        _SDL,
        "null = tss - Vt.T @ coords",
        "null = Vt.T @ coords",
        "(I - P)theta_S computed as P theta_S (then re-orthogonalised to ~0, so B is taken as 0)",
        catch=("D3-flow-limit", "D5-aligned-teacher"),
    ),
    Mutant(
        "D5-risk-rescale",
        _SDL,
        "_ldexp_checked(float(ds @ sig_s @ ds), 2 * e + es,",
        "_ldexp_checked(float(ds @ sig_s @ ds), e + es,",
        "finetuned_risk scales the quadratic form of the 2^-e rescaled difference back by 2^e "
        "instead of 2^(2e)",
        catch=("D5-aligned-teacher",),
    ),
    Mutant(
        "D4-limit-coefficient",
        _SDL,
        "return -A * c_inf * log(c_inf) / (A - B)",
        "return -A * c_inf * log(c_inf) / A",
        "rate constant K = -A c_inf ln c_inf/(A - B) with A in the denominator instead of "
        "A - B = |P theta_S|^2",
        catch=("D4-depth-limit",),
    ),
    Mutant(
        "D-regularizer-exponent",
        _SDL,
        "r_s ** ((depth + 1) / depth)",
        "r_s ** ((depth - 1) / depth)",
        "implicit_regularizer_value: |w|^((N-1)/N) instead of |w|^((N+1)/N)",
        catch=("D3-flow-limit",),
    ),
    Mutant(
        "D6-floor-normalisation",
        _SDL,
        "floor = max(0.0, float(tt_s @ sig_s @ tt_s) - b * b / a)",
        "floor = max(0.0, float(tt_s @ sig_s @ tt_s) - b * b / float(ts_s @ ts_s))",
        "frozen_layers_risk_floor divides by |theta_S|^2 instead of theta_S^T Sigma theta_S "
        "(right only for Sigma = I)",
        catch=("D6-frozen-first-layer",),
    ),
    # ---------------------------------------------------------------- trainers
    Mutant(
        "D1-gradient-factor",
        _NDL,
        "g = X.T @ resid / n",
        "g = X.T @ resid / X.shape[1]",
        "layer gradients from g = X^T(Xw - y)/d instead of /n (1/d for 1/n)",
        catch=("D1-one-step",),
    ),
    Mutant(
        "D1-layer-gradients-transpose",
        _NDL,
        "return [np.outer(*f) for f in factors if f is not None], w",
        "return [np.outer(f[1], f[0]) for f in factors if f is not None], w",
        "layer_gradients returns h a^T (the transpose) instead of dL/dW_j = a^T h^T",
        catch=("D1-one-step",),
    ),
    Mutant(
        "D1-gd-step-factor",
        _NDL,
        "W -= h * np.outer(f[0], f[1])",
        "W -= 2.0 * h * np.outer(f[0], f[1])",
        "GD update uses the gradient of (1/n)|Xw - y|^2 (twice dL/dW_j for L = (1/2n)|Xw - y|^2)",
        catch=("D1-one-step",),
    ),
    Mutant(
        "D2-balanced-scale",
        _NDL,
        "s = norm ** (1.0 / depth)",
        "s = norm ** (1.0 / (depth + 1))",
        "balanced_weights with layer scale |theta_S|^(1/(N+1)) instead of |theta_S|^(1/N): "
        "balanced, but the end-to-end vector is not theta_S",
        catch=("D3-flow-limit",),
    ),
    Mutant(
        "D1-imbalance-sign",
        _NDL,
        "gap = high.T @ high - low @ low.T",
        "gap = high.T @ high + low @ low.T",
        "imbalance measures W_(j+1)^T W_(j+1) + W_j W_j^T (sign): balanced weights report ~2",
        catch=("D3-flow-limit", "D3-pretrained"),
    ),
    Mutant(
        "D3-products-suffix-order",
        _FLOW,
        "suf[:-1] = np.cumprod(sg[::-1][:-1])[::-1]",
        "suf[:-1] = np.cumprod(sg[::-1][:-1])",
        "reduced chain: suffix products not reversed, so pi_j = prod_(i != j) sigma_i is wrong "
        "for depth >= 4 (the sigma-gradients of the width-one chain)",
        catch=("D3-invariant-set", "D3-flow-limit"),
    ),
    Mutant(
        "D3-embed-order",
        _NDL,
        "np.array(sigmas[::-1]), tuple(vecs[::-1])",
        "np.array(sigmas[::-1]), tuple(vecs)",
        "width-one reduction returns the embedding vectors (v_1, ..., v_(N-1)) in walk order "
        "(top-down): embed gives the right end-to-end vector but wrong layers for depth >= 3",
        catch=("D3-invariant-set",),
    ),
    Mutant(
        "D3-reduced-sigma-gradient",
        _FLOW,
        "out[self.r :] = (-float(q @ e) / n) * pi",
        "out[self.r :] = (-float(b @ e) / n) * pi",
        "width-one chain: dL/dsigma_j = (pi_j/n) q^T e with b instead of q = S b (row-space "
        "coordinates not scaled by the singular values)",
        catch=("D3-invariant-set", "D3-flow-limit"),
    ),
    Mutant(
        "D3-error-estimate-self",
        _NDL,
        "coarse_w = _final_end_to_end(make(), coarse.z, chain)",
        "coarse_w = _final_end_to_end(make(), fine.z, chain)",
        "error estimate compares the fine run with itself (|w - w_coarse| reported as 0; only "
        "the distance term remains)",
        catch=("D3-flow-limit", "D3-invariant-set"),
        known_gap="with every layer trainable the remaining Newton distance alone is about the "
        "actual error (measured ratio 0.995-1.0 at tol 1e-8 and 1e-5), so every claim's 10x "
        "the estimate still holds; it hurts only with frozen layers or a max_time stop, where "
        "the distance term is absent, and no claim runs the adaptive flow that way (a D6 flow "
        "route with W_1 frozen did not kill it and cost minutes per standard run)",
    ),
)
