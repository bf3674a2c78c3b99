"""SymPy symbols of docs/theory.md, declared once with their assumptions.

Every derivation in :mod:`symbolic` builds on these objects so that simplification can use
the assumptions (sizes are positive integers, variances non-negative, scales positive).
Names follow ``docs/notation.md``.
"""

from __future__ import annotations

import sympy as sp

# Sizes ---------------------------------------------------------------------------------
n = sp.Symbol("n", integer=True, positive=True)  # target training samples
d = sp.Symbol("d", integer=True, positive=True)  # input dimension
depth = sp.Symbol("N", integer=True, positive=True)  # number of weight matrices

# Continuous stand-ins for sizes (limits, solving n(ε) before rounding up) ---------------
n_c = sp.Symbol("n", positive=True)  # n treated as a real number
gamma = sp.Symbol("gamma", positive=True)  # aspect ratio γ = d/n (> 1 for interpolation)
psi = sp.Symbol("psi", positive=True)  # over-determined ratio ψ = n/d (> 1)

# Scalars -------------------------------------------------------------------------------
sigma2 = sp.Symbol("sigma2", nonnegative=True)  # label-noise variance σ²
delta_sq = sp.Symbol("Delta2", positive=True)  # ‖Δ‖² = ‖θ_S − θ_T‖²
theta_t_sq = sp.Symbol("thetaT2", positive=True)  # ‖θ_T‖²
epsilon = sp.Symbol("epsilon", positive=True)  # target excess risk ε
eta = sp.Symbol("eta", positive=True)  # gradient-descent step size η
mu = sp.Symbol("mu", positive=True)  # an eigenvalue of XᵀX/n
lam = sp.Symbol("lambda", positive=True)  # an eigenvalue of Σ
c0 = sp.Symbol("c0", positive=True)  # HMRT fixed-point c₀
k = sp.Symbol("k", integer=True, nonnegative=True)  # iteration counter

# Matrices (shapes from the notation page) ----------------------------------------------
X = sp.MatrixSymbol("X", n, d)  # design, rows x_i
X_pinv = sp.MatrixSymbol("X^+", d, n)  # Moore–Penrose pseudo-inverse X⁺
y = sp.MatrixSymbol("y", n, 1)  # labels
xi = sp.MatrixSymbol("xi", n, 1)  # label noise ξ
theta = sp.MatrixSymbol("theta", d, 1)  # a parameter vector θ
theta_s = sp.MatrixSymbol("theta_S", d, 1)  # source / pretrained θ_S
theta_t = sp.MatrixSymbol("theta_T", d, 1)  # target teacher θ_T
cov = sp.MatrixSymbol("Sigma", d, d)  # covariance Σ (symmetric PSD)
multiplier = sp.MatrixSymbol("lambda", n, 1)  # Lagrange multiplier of Xθ = y
identity_d = sp.Identity(d)

# ReLU NTK (docs/theory.md §3) ----------------------------------------------------------------
cos_sim = sp.Symbol("u", real=True)  # u = xᵀx' for unit-norm x, x' (in [−1, 1])
angle = sp.Symbol("theta", positive=True)  # angle θ = arccos u between x and x' (0 < θ < π)
radius = sp.Symbol("r", positive=True)  # polar radius of the 2-D projection of w
polar_angle = sp.Symbol("phi", real=True)  # polar angle of the 2-D projection of w
kernel_eig = sp.Symbol("kappa", positive=True)  # an eigenvalue of the NTK Gram matrix K
flow_time = sp.Symbol("t", positive=True)  # gradient-flow time t
lin_coeff = sp.Symbol("c1", positive=True)  # u-coefficient of a dot-product kernel
beta_sq = sp.Symbol("beta2", positive=True)  # ‖β‖² of a linear teacher x ↦ βᵀx
n_params = sp.Symbol("p", integer=True, positive=True)  # number of trained parameters (m·d)
features = sp.MatrixSymbol("Phi", n, n_params)  # Φ: rows ∇_W f_S(x_i), the NTK features
features_x = sp.MatrixSymbol("phi_x", n_params, 1)  # φ(x) = ∇_W f_S(x) at a test point
residual = sp.MatrixSymbol("r", n, 1)  # r = y − f_S(X), the residual task
ntk = sp.MatrixSymbol("K", n, n)  # K = ΦΦᵀ, the NTK Gram matrix (symmetric PD)
ntk_x = sp.MatrixSymbol("k_x", 1, n)  # k(x, X) = φ(x)ᵀΦᵀ
