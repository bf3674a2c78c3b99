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
        (lambda: checks.as_matrix("abc", "X"), "X must be an array of real numbers"),
        (lambda: checks.underparameterised_rule(5, 5, "L3"), "L3 needs n < d"),
        (lambda: checks.full_row_rank(np.ones((2, 3))), "X must have full row rank 2"),
        (lambda: checks.as_eigenvalues([1.0, 0.0]), "eigenvalues must be strictly positive"),
    ],
)
def test_rules(call: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        call()  # type: ignore[operator]


#: Values the one coercion rule refuses, each with the reason it would be wrong to accept it.
REFUSED = {
    "complex array (the imaginary part would be dropped)": np.array([1.0 + 1j, 2.0]),
    "complex element in a list": [1.0, 2j],
    "numeric string (not parsed)": ["1.5", "2"],
    "bool array (True is not the number 1)": np.array([True, False]),
    "bool element in a list": [1.0, True],
    "object array": np.array([1.0, None], dtype=object),
    "None": None,
    "ragged list": [[1.0, 2.0], [3.0]],
    "NaN": [np.nan, 1.0],
    "inf": [np.inf, 1.0],
}


@pytest.mark.parametrize("value", REFUSED.values(), ids=list(REFUSED))
def test_coercion_rule_refuses_non_real_arrays(value: object) -> None:
    with pytest.raises(InputError, match="theta_s"):
        checks.as_vector(value, "theta_s")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [True, np.True_, 1 + 0j, "1.5", None, object(), 10**400, np.array([1.0])],
    ids=[
        "True",
        "np.True_",
        "complex",
        "str",
        "None",
        "object",
        "10**400",
        "1-d array",
    ],
)
def test_coercion_rule_refuses_non_real_numbers(value: object) -> None:
    with pytest.raises(InputError, match="alpha"):
        checks.real_number(value, "alpha")


@pytest.mark.parametrize(
    "value",
    [[1, 2], (1.0, 2), np.array([1, 2], dtype=np.int32), np.array([1, 2], dtype=np.float32)],
    ids=repr,
)
def test_coercion_rule_accepts_real_numbers_of_any_width(value: object) -> None:
    out = checks.as_vector(value, "theta_s")  # type: ignore[arg-type]
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.0, 2.0])


def test_coercion_rule_accepts_scalars_and_zero() -> None:
    assert checks.real_number(np.int64(3), "alpha") == 3.0
    assert checks.real_number(np.array(2.5), "alpha") == 2.5
    assert checks.real_number(0, "alpha") == 0.0
    assert checks.real_number(1e300, "alpha") == 1e300
    np.testing.assert_array_equal(checks.as_vector([0.0, 0.0], "v"), [0.0, 0.0])
