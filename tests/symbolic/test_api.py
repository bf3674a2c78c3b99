"""The consistent symbolic API (issue 12, item 6): new names, one argument order, and the old
names kept for one release (they warn, then do exactly what they did).

Every deprecated spelling must (a) emit a DeprecationWarning and (b) return exactly what the
new spelling returns: the same function runs underneath, so equality is exact (``==`` on
floats, ``np.array_equal`` on arrays), never approximate.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import numeric.relu_ntk as nr
import symbolic
import symbolic.linear as sl
import symbolic.relu_ntk as sr
from finetune_theory.deprecation import REMOVED_IN
from finetune_theory.errors import InputError

#: 1e300·X rounds every entry of X by ε relative; P, X⁺ and the terms move by about
#: (n + d)·κ(X)²·ε ≲ 1e-13 for these 4 × 7 Gaussian designs (κ² ≲ 1e2): 1e-12 allows 10×.
RESCALE_RTOL = 1e-12


def _sphere(n: int, d: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).standard_normal((n, d))
    return np.asarray(X / np.linalg.norm(X, axis=1, keepdims=True))


def _regression(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, d = 4, 7
    X = rng.standard_normal((n, d))
    theta_s, theta_t = rng.standard_normal(d), rng.standard_normal(d)
    y = X @ theta_t + 0.3 * rng.standard_normal(n)
    a = rng.standard_normal((d, d))
    return {
        "X": X,
        "y": y,
        "noise": y - X @ theta_t,  # ξ exactly as risk_decomposition forms it from y
        "theta_s": theta_s,
        "theta_t": theta_t,
        "cov": a @ a.T,
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return bool(a == b)


# --------------------------------------------------------------------------------------
# L2: risk_decomposition takes the labels y; risk_terms (deprecated) the noise
# --------------------------------------------------------------------------------------


def test_risk_decomposition_equals_risk_terms_of_the_noise() -> None:
    p = _regression()
    X, y, ts, tt, cov = p["X"], p["y"], p["theta_s"], p["theta_t"], p["cov"]
    new = sl.risk_decomposition(X, y, ts, tt, cov)
    with pytest.deprecated_call(match="risk_decomposition"):
        old = sl.risk_terms(X, y - X @ tt, ts, tt, cov)
    # Equal bit for bit: risk_decomposition forms ξ = y − Xθ_T as y − X @ θ_T does, up to
    # exact powers of 2 (X and θ_T are rescaled before the product, not rounded).
    assert new == old
    theta = sl.finetuned_weights(X, y, ts)
    assert new.total == pytest.approx(sl.excess_risk(theta, tt, cov), rel=1e-10)


def test_risk_terms_keeps_its_old_noise_argument() -> None:
    """The old function still takes the noise (passing y there gives other numbers: the
    trap the rename removes)."""
    p = _regression(1)
    X, ts, tt = p["X"], p["theta_s"], p["theta_t"]
    with pytest.deprecated_call():
        by_noise = sl.risk_terms(X, p["noise"], ts, tt)
    with pytest.deprecated_call():
        by_labels = sl.risk_terms(X, p["y"], ts, tt)
    assert by_noise == sl.risk_decomposition(X, p["y"], ts, tt)
    assert by_labels != by_noise
    assert list(inspect.signature(sl.risk_terms).parameters) == [
        "X",
        "noise",
        "theta_s",
        "theta_t",
        "cov",
    ]


def test_risk_decomposition_keeps_the_rescaled_range() -> None:
    """ξ = y − Xθ_T is never formed in float64: with X ~ 1e300, θ ~ 1e10 and y = 0,
    Xθ_T ~ 1e310 overflows, yet the terms are those of the unscaled X (X⁺ξ = −Pθ_T and P do
    not change when X is scaled; 1e300 is not a power of 2, so only rounding differs)."""
    p = _regression(2)
    X, ts, tt = p["X"], 1e10 * p["theta_s"], 1e10 * p["theta_t"]
    zero = np.zeros(X.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.all(np.isfinite((1e300 * X) @ tt))  # Xθ_T overflows float64
    base = sl.risk_decomposition(X, zero, ts, tt, p["cov"])
    huge = sl.risk_decomposition(1e300 * X, zero, ts, tt, p["cov"])
    for field in ("bias", "cross", "variance"):
        assert getattr(huge, field) == pytest.approx(getattr(base, field), rel=RESCALE_RTOL)


# --------------------------------------------------------------------------------------
# Scalar formulas: data first, sizes keyword-only; the old positional layouts
# --------------------------------------------------------------------------------------

#: (old positional call, new keyword call, warning text) triples that must agree exactly.
POSITIONAL_CASES: list[tuple[Callable[[], Any], Callable[[], Any], str]] = [
    (
        lambda: sl.sample_complexity(0.5, 1.0, 20),
        lambda: sl.sample_complexity(1.0, d=20, epsilon=0.5),
        "pass d= and epsilon= by keyword",
    ),
    (
        lambda: sl.expected_risk_isotropic(10, 20, 2.0),
        lambda: sl.expected_risk_isotropic(2.0, n=10, d=20),
        "pass n= and d= by keyword",
    ),
    (
        lambda: sl.expected_risk_isotropic(10, 20, 2.0, 0.5),
        lambda: sl.expected_risk_isotropic(2.0, n=10, d=20, noise_var=0.5),
        "pass n= and d= by keyword",
    ),
    (
        lambda: sl.expected_risk_isotropic(30, 20, 2.0, noise_var=0.5),
        lambda: sl.expected_risk_isotropic(2.0, n=30, d=20, noise_var=0.5),
        "pass n= and d= by keyword",
    ),
    (
        lambda: sl.sample_complexity_ratio(0.25, 0.5, 2.0, 100),
        lambda: sl.sample_complexity_ratio(0.5, 2.0, d=100, epsilon=0.25),
        "pass d= and epsilon= by keyword",
    ),
    (
        lambda: symbolic.sample_complexity(0.5, 1.0, 20),
        lambda: symbolic.sample_complexity(1.0, d=20, epsilon=0.5),
        "pass d= and epsilon= by keyword",
    ),
]


POSITIONAL_IDS = [
    "sample_complexity",
    "expected_risk_isotropic-3",
    "expected_risk_isotropic-4",
    "expected_risk_isotropic-3+noise_var=",
    "sample_complexity_ratio",
    "symbolic.sample_complexity",
]


@pytest.mark.parametrize(("old", "new", "advice"), POSITIONAL_CASES, ids=POSITIONAL_IDS)
def test_old_positional_layout_is_read_in_the_old_order(
    old: Callable[[], Any], new: Callable[[], Any], advice: str
) -> None:
    with pytest.deprecated_call(match=advice) as record:
        value = old()
    assert value == new()
    assert all(REMOVED_IN in str(w.message) for w in record)


def test_old_positional_values_are_the_formulas() -> None:
    """Not just equal to the new call: the old order means what it meant (n(ε) = ⌈d(1 −
    ε/‖Δ‖²)⌉ = 10 at ε = 0.5, ‖Δ‖² = 1, d = 20; (1 − 10/20)·2 + 0.5·10/9)."""
    with pytest.deprecated_call():
        assert sl.sample_complexity(0.5, 1.0, 20) == 10
    with pytest.deprecated_call():
        assert sl.expected_risk_isotropic(10, 20, 2.0, 0.5) == pytest.approx(1.0 + 5.0 / 9.0)
    with pytest.deprecated_call():
        assert sl.sample_complexity_ratio(0.25, 0.5, 2.0, 100) == pytest.approx(50 / 88)


def test_keyword_calls_with_the_old_names_do_not_warn() -> None:
    """The parameter names did not change, so an old all-keyword call is a new call."""
    assert sl.sample_complexity(epsilon=0.5, delta_sq=1.0, d=20) == 10
    assert sl.expected_risk_isotropic(n=10, d=20, delta_sq=2.0) == 1.0
    assert sl.sample_complexity_ratio(
        epsilon=0.25, delta_sq=0.5, theta_t_sq=2.0, d=100
    ) == pytest.approx(50 / 88)


@pytest.mark.parametrize(
    "call",
    [
        lambda: sl.sample_complexity(0.5, 1.0),  # neither layout
        lambda: sl.sample_complexity(0.5, 1.0, d=20),  # mixed
        lambda: sl.sample_complexity(0.5, 1.0, 20, 7),  # too many for either
        lambda: sl.sample_complexity(0.5, 1.0, 20, epsilon=0.5),  # epsilon given twice
        lambda: sl.expected_risk_isotropic(10, 20),  # mixed/short
        lambda: sl.expected_risk_isotropic(10, 20, 2.0, 0.5, 1.0),
        lambda: sl.expected_risk_isotropic(10, 20, 2.0, n=10),  # n twice
        lambda: sl.expected_risk_isotropic(2.0, d=20),  # n missing
        lambda: sl.sample_complexity_ratio(0.25, 0.5, 2.0),  # short of the old layout
        lambda: sl.sample_complexity_ratio(0.25, 0.5, 2.0, d=100),
    ],
)
def test_other_layouts_are_type_errors(call: Callable[[], Any]) -> None:
    with pytest.raises(TypeError):
        call()


def test_new_signatures_are_data_first_with_keyword_only_sizes() -> None:
    kw = inspect.Parameter.KEYWORD_ONLY
    for func, positional, keyword in (
        (sl.expected_risk_isotropic, ["delta_sq"], ["n", "d", "noise_var"]),
        (sl.sample_complexity, ["delta_sq"], ["d", "epsilon"]),
        (sl.sample_complexity_ratio, ["delta_sq", "theta_t_sq"], ["d", "epsilon"]),
    ):
        params = inspect.signature(func).parameters
        assert [n for n, p in params.items() if p.kind != kw] == positional, func
        assert [n for n, p in params.items() if p.kind == kw] == keyword, func


# --------------------------------------------------------------------------------------
# NTK names: first_layer_ntk (H^∞), full_ntk (both layers), ntk(layers=...)
# --------------------------------------------------------------------------------------


def test_ntk_dispatches_on_layers() -> None:
    X, Z = _sphere(6, 4, 0), _sphere(3, 4, 1)
    assert np.array_equal(sr.ntk(X), sr.first_layer_ntk(X))
    assert np.array_equal(sr.ntk(X, layers="first"), sr.first_layer_ntk(X))
    assert np.array_equal(sr.ntk(X, layers="both"), sr.full_ntk(X))
    assert np.array_equal(sr.ntk(X, Z, layers="both"), sr.full_ntk(X, Z))
    scaled = 3.0 * X
    assert np.array_equal(
        sr.ntk(scaled, layers="both", normalize=True), sr.full_ntk(scaled, normalize=True)
    )
    # The two kernels differ by the NNGP term (the 0.51 trap of comparing the wrong pair).
    assert np.array_equal(sr.full_ntk(X), sr.first_layer_ntk(X) + sr.nngp_gram(X))


@pytest.mark.parametrize("layers", ["h_inf", "ntk", "First", "all", None, 1])
def test_invalid_layers_is_an_input_error_naming_layers(layers: Any) -> None:
    X = _sphere(3, 3, 2)
    with pytest.raises(InputError, match="layers must be 'first'"):
        sr.ntk(X, layers=layers)
    with pytest.raises(InputError, match="layers must be 'first'"):
        sr.kernel_norm_sq(X, np.ones(3), layers=layers)


def test_layers_default_matches_the_empirical_ntk() -> None:
    """symbolic.relu_ntk.ntk and its numeric pairs spell the choice and default alike."""

    def default(func: Callable[..., Any]) -> Any:
        return inspect.signature(func).parameters["layers"].default

    assert default(sr.ntk) == "first"
    assert default(sr.ntk) == default(nr.empirical_ntk) == default(nr.monte_carlo_gram)
    for func in (sr.finetuned_predictor, sr.kernel_norm_sq, sr.distance_travelled):
        assert default(func) == default(nr.empirical_ntk), func


def test_layers_values_are_the_numeric_ones() -> None:
    assert set(sr.Layers.__args__) == set(nr.Layers.__args__)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------
# Deprecated names: they warn and return exactly what the new name returns
# --------------------------------------------------------------------------------------


def _deprecated_calls() -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    X, Z = _sphere(5, 4, 3), _sphere(2, 4, 4)
    Xt = _sphere(3, 4, 5)
    y, fs, fst = np.arange(5.0), 0.1 * np.ones(5), 0.1 * np.ones(3)
    p = _regression(3)
    rd = (p["X"], p["theta_s"], p["theta_t"], p["cov"])

    def sym_attr(name: str) -> Any:
        return getattr(symbolic, name)

    return [
        ("relu_ntk.gram", lambda: sr.gram(X, Z), lambda: sr.first_layer_ntk(X, Z)),
        (
            "relu_ntk.gram normalize",
            lambda: sr.gram(2 * X, normalize=True),
            lambda: sr.first_layer_ntk(2 * X, normalize=True),
        ),
        ("relu_ntk.ntk_gram", lambda: sr.ntk_gram(X, Z), lambda: sr.full_ntk(X, Z)),
        ("symbolic.gram", lambda: sym_attr("gram")(X), lambda: symbolic.first_layer_ntk(X)),
        ("symbolic.ntk_gram", lambda: sym_attr("ntk_gram")(X), lambda: symbolic.full_ntk(X)),
        (
            "linear.risk_terms",
            lambda: sl.risk_terms(rd[0], p["noise"], *rd[1:]),
            lambda: sl.risk_decomposition(rd[0], p["y"], *rd[1:]),
        ),
        (
            "symbolic.risk_terms",
            lambda: sym_attr("risk_terms")(rd[0], p["noise"], *rd[1:]),
            lambda: symbolic.risk_decomposition(rd[0], p["y"], *rd[1:]),
        ),
        *(
            (
                f"{func.__name__}(kernel={old!r})",
                lambda func=func, args=args, old=old: func(*args, kernel=old),
                lambda func=func, args=args, new=new: func(*args, layers=new),
            )
            for func, args in (
                (sr.finetuned_predictor, (X, y, fs, Xt, fst)),
                (sr.kernel_norm_sq, (X, y)),
                (sr.distance_travelled, (X, y, fs)),
            )
            for old, new in (("h_inf", "first"), ("ntk", "both"))
        ),
    ]


DEPRECATED = _deprecated_calls()


@pytest.mark.parametrize(("label", "old", "new"), DEPRECATED, ids=[c[0] for c in DEPRECATED])
def test_deprecated_name_warns_and_returns_what_the_new_name_returns(
    label: str, old: Callable[[], Any], new: Callable[[], Any]
) -> None:
    with pytest.deprecated_call() as record:
        value = old()
    assert all(REMOVED_IN in str(w.message) for w in record), label
    want = new()
    if isinstance(want, sl.RiskTerms):
        assert value == want, label
    else:
        assert _same(value, want), label


def test_kernel_keyword_default_meaning_is_first_layer() -> None:
    """kernel="h_inf" was the default: the new default layers="first" is the same kernel."""
    X, y = _sphere(5, 4, 6), np.arange(5.0)
    with pytest.deprecated_call():
        old = sr.kernel_norm_sq(X, y, kernel="h_inf")
    assert old == sr.kernel_norm_sq(X, y)


def test_kernel_and_layers_together_is_a_type_error() -> None:
    X, y = _sphere(4, 3, 7), np.ones(4)
    with pytest.raises(TypeError, match="layers"):
        sr.kernel_norm_sq(X, y, kernel="ntk", layers="both")
    with pytest.raises(TypeError, match="layers"):
        sr.distance_travelled(X, y, np.zeros(4), kernel="h_inf", layers="first")


def test_invalid_deprecated_kernel_is_an_input_error_naming_kernel() -> None:
    X, y = _sphere(4, 3, 8), np.ones(4)
    with pytest.raises(InputError, match="kernel must be 'h_inf'"):
        sr.kernel_norm_sq(X, y, kernel="rbf")


def test_deprecated_aliases_are_marked_and_keep_the_signature() -> None:
    for old, new in (
        (sr.gram, sr.first_layer_ntk),
        (sr.ntk_gram, sr.full_ntk),
        (sl.risk_terms, sl.risk_decomposition),
    ):
        assert hasattr(old, "__deprecated__"), old
        assert not hasattr(new, "__deprecated__"), new
    assert inspect.signature(sr.gram) == inspect.signature(sr.first_layer_ntk)
    assert inspect.signature(sr.ntk_gram) == inspect.signature(sr.full_ntk)


def test_top_level_all_has_the_new_names_and_no_deprecated_one() -> None:
    assert {"risk_decomposition", "first_layer_ntk", "full_ntk", "ntk"} <= set(symbolic.__all__)
    assert not {"gram", "ntk_gram", "risk_terms"} & set(symbolic.__all__)
    for name in symbolic.__all__:
        assert not hasattr(getattr(symbolic, name), "__deprecated__"), name


def test_unknown_top_level_name_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        symbolic.no_such_name  # type: ignore[attr-defined]  # noqa: B018
