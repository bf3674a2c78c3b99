"""finetune_theory.checks: every rule raises InputError naming the parameter."""

from __future__ import annotations

import numpy as np
import pytest

from finetune_theory import InputError, checks


def test_input_error_is_a_value_error() -> None:
    assert issubclass(InputError, ValueError)


def test_arrays_are_copied_and_converted() -> None:
    src = np.array([[1, 2], [3, 4]], dtype=np.int64)
    out = checks.as_matrix(src, "X")
    assert out.dtype == np.float64
    out[0, 0] = 99
    assert src[0, 0] == 1


def test_psd_tolerance_accepts_rounding_and_rejects_indefinite() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 3))
    cov = a @ a.T  # rank 3: three eigenvalues are 0 up to rounding
    checks.as_cov(cov, 6)
    with pytest.raises(InputError, match="positive semi-definite"):
        checks.as_cov(cov - 1e-6 * np.eye(6), 6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: checks.positive_int(True, "depth"), "depth must be an integer"),
        (lambda: checks.positive_int(0, "depth"), "depth must be an integer >= 1"),
        (lambda: checks.positive(float("nan"), "step"), "step must be finite"),
        (lambda: checks.nonnegative(-0.1, "noise_var"), "noise_var must be >= 0"),
        (lambda: checks.real_number("x", "alpha"), "alpha must be a real number"),
        (lambda: checks.as_vector([], "theta_s"), "theta_s must not be empty"),
        (lambda: checks.as_vector([[1.0]], "theta_s"), "theta_s must be 1-dimensional"),
        (lambda: checks.as_matrix("abc", "X"), "X must be numeric"),
        (lambda: checks.underparameterised_rule(5, 5, "L3"), "L3 needs n < d"),
        (lambda: checks.full_row_rank(np.ones((2, 3))), "X must have full row rank 2"),
        (lambda: checks.as_eigenvalues([1.0, 0.0]), "eigenvalues must be strictly positive"),
    ],
)
def test_rules(call: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()  # type: ignore[operator]
