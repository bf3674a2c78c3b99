"""The numeric API's conventions (issue 12, item 6): data-first trainers, no misleading
top-level alias, result records of Python scalars and float64 arrays.

* Every public result record, from real calls, holds exactly ``int``/``float``/``bool``/
  ``str`` (or None where documented) and float64 ndarrays of ndim >= 1 — never a NumPy
  scalar or a 0-d array. The per-problem counters and flags of a batched linear run are
  int64/bool ndarrays (documented in GDResult).
* The old model-first layouts ``deep_linear.fine_tune(weights, X, y)``,
  ``deep_linear.layer_gradients(weights, X, y)``, ``relu_ntk.fine_tune(network, X, y)`` and
  ``relu_ntk.loss_gradient(net, X, y)`` warn (DeprecationWarning at the caller's line) and
  return bit for bit what the data-first call returns.
* ``numeric.fine_tune``/``fine_tune_many`` are deprecated aliases of numeric.linear's.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import numeric
import numeric.deep_linear as ndl
import numeric.linear as nl
import numeric.relu_ntk as nr
from finetune_theory.errors import InputError

SCALARS = (int, float, bool, str)


def _task(seed: int = 0, n: int = 4, d: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    theta_s = rng.standard_normal(d)
    return X, X @ (theta_s + 0.3 * rng.standard_normal(d)), theta_s


def _problems(record: Any, path: str = "", batched: tuple[str, ...] = ()) -> list[str]:
    """Every field of ``record`` (recursively) that breaks the type rule, as text."""
    out: list[str] = []
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        where = f"{path}{type(record).__name__}.{f.name}"
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if dataclasses.is_dataclass(item):
                out += _problems(item, f"{where}.", batched)
            elif isinstance(item, np.ndarray):
                want = {"steps": np.int64, "units_log2": np.int64, "converged": np.bool_}
                dtype = want.get(f.name, np.float64) if f.name in batched else np.float64
                if item.dtype != dtype or item.ndim < 1:
                    out.append(f"{where}: {item.dtype} array of ndim {item.ndim}")
            elif type(item) not in SCALARS and item is not None:
                out.append(f"{where}: {type(item).__name__}")
    return out


def _assert_types(record: Any, *, batched: tuple[str, ...] = ()) -> None:
    assert dataclasses.is_dataclass(record)
    problems = _problems(record, batched=batched)
    assert not problems, problems


# ------------------------------------------------------------------ result types


@pytest.mark.parametrize("method", ["gd", "cg"])
def test_gd_result_of_one_problem_holds_python_scalars(method: str) -> None:
    X, y, ts = _task()
    run = nl.fine_tune(X, y, ts, method=method)  # type: ignore[arg-type]
    _assert_types(run)
    assert type(run.steps) is int and type(run.converged) is bool
    assert type(run.units_log2) is int
    for name in ("step", "grad_norm", "condition", "error_estimate"):
        assert type(getattr(run, name)) is float, name
    assert run.theta.shape == (3,) and run.loss_history.shape == (run.steps + 1,)


def test_gd_result_of_a_stack_holds_per_problem_arrays() -> None:
    X, y, ts = _task()
    run = nl.fine_tune_many(np.stack([X, 2 * X]), np.stack([y, 2 * y]), ts)
    per_problem = ("steps", "converged", "units_log2")
    _assert_types(run, batched=per_problem)
    for name in (*per_problem, "step", "grad_norm", "condition", "error_estimate"):
        assert isinstance(getattr(run, name), np.ndarray), name
        assert getattr(run, name).shape == (2,), name
    assert isinstance(run.steps, np.ndarray) and run.steps.dtype == np.int64
    assert isinstance(run.converged, np.ndarray) and run.converged.dtype == np.bool_


def test_records_normalise_numpy_scalars_at_construction() -> None:
    """However a record is built (by hand, dataclasses.replace), its scalars are Python's."""
    X, y, ts = _task()
    run = nl.fine_tune(X, y, ts)
    numpy_scalars: dict[str, Any] = {"steps": np.int64(3), "converged": np.True_}
    again = dataclasses.replace(run, step=np.array(0.5), **numpy_scalars)
    assert (type(again.steps), type(again.converged), type(again.step)) == (int, bool, float)
    est = nl.MonteCarloEstimate(np.float64(1.0), np.array(0.1), np.int64(5))  # type: ignore[arg-type]
    assert (type(est.mean), type(est.stderr), type(est.samples)) == (float, float, int)


def test_monte_carlo_estimates_hold_python_scalars() -> None:
    _, _, ts = _task()
    net = nr.init_network(4, 3, 0)
    for est in (
        nl.population_risk_mc(ts, 2 * ts, 0, n_test=16),
        nl.expected_risk_mc(ts, 2 * ts, 4, 0, designs=2),
        nr.population_risk_mc(net, ts, 0, n_test=16),
    ):
        _assert_types(est)
        assert (type(est.mean), type(est.stderr), type(est.samples)) == (float, float, int)


#: The deep-linear runs, each with whether its error_estimate is documented to exist.
DEEP_RUNS: dict[str, tuple[dict[str, Any], bool]] = {
    "flow": ({}, True),
    "flow, full matrices": ({"reduce": False}, True),
    "flow, estimate_error=False": ({"estimate_error": False}, False),
    "flow, stopped by max_time": ({"max_time": 0.01}, True),
    "flow, out of budget": ({"max_evals": 3, "strict": False}, False),
    "gd": ({"solver": "gd"}, False),
    "rk4": ({"integrator": "rk4"}, False),
}


@pytest.mark.parametrize("label", list(DEEP_RUNS))
def test_deep_result_holds_python_scalars_and_none_when_not_estimated(label: str) -> None:
    X, y, ts = _task()
    options, estimated = DEEP_RUNS[label]
    run = ndl.fine_tune(X, y, ndl.balanced_weights(ts, [3, 2, 1], 0), **options)
    _assert_types(run)
    assert (type(run.steps), type(run.converged), type(run.evaluations)) == (int, bool, int)
    assert (type(run.step), type(run.time)) == (float, float)
    assert all(W.ndim == 2 for W in run.weights) and run.end_to_end.shape == (3,)
    if estimated:
        assert type(run.error_estimate) is float and run.error_estimate >= 0.0
    else:
        assert run.error_estimate is None


def test_chain_embedding_and_networks_hold_float64_arrays() -> None:
    _, _, ts = _task()
    _, embedding = ndl.reduce_rank_one(ndl.balanced_weights(ts, [3, 2, 2, 1], 0))
    _assert_types(embedding)
    assert len(embedding.vectors) == 2
    _assert_types(nr.init_network(4, 3, 0))


def test_relu_records_hold_python_scalars_and_float64_arrays() -> None:
    X, y, ts = _task(n=3)
    run = nr.fine_tune(X, y, nr.init_network(8, 3, 0), rtol=1e-6)
    _assert_types(run)
    assert (type(run.steps), type(run.converged)) == (int, bool)
    assert (type(run.step), type(run.residual_norm)) == (float, float)
    _assert_types(nr.pretrain(X, ts, 8, 0, rtol=1e-6))
    _assert_types(nr.transfer(X, ts, X, 2 * ts, 8, 0, rtol=1e-6))
    gram = nr.monte_carlo_gram(X, 8, 0)
    _assert_types(gram)
    assert type(gram.samples) is int and gram.mean.shape == (3, 3)


def test_digit_tasks_hold_float64_arrays() -> None:
    # scikit-learn (the digits) is in the test extra: no skip, a missing extra fails here.
    from numeric.realdata import load_digit_tasks

    _assert_types(load_digit_tasks(5))


# ------------------------------------------------------------------ data-first order


def _same(a: Any, b: Any) -> bool:
    """Bit-for-bit equality of records, tuples, lists, arrays and scalars."""
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(
            _same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, z) for x, z in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and np.array_equal(a, b)
    return type(a) is type(b) and a == b


def _new_call_is_silent(call: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call()


def _deep_case() -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    X, y, ts = _task()
    return X, y, ndl.balanced_weights(ts, [3, 2, 1], 0)


OLD_LAYOUTS: dict[str, tuple[Callable[[], Any], Callable[[], Any], str, str]] = {}


def _register() -> None:
    X, y, ws = _deep_case()
    net = nr.init_network(8, 3, 0)
    Xr, yr = X[:3], y[:3]
    OLD_LAYOUTS.update(
        {
            "deep_linear.fine_tune": (
                lambda: ndl.fine_tune(ws, X, y),  # type: ignore[arg-type]
                lambda: ndl.fine_tune(X, y, ws),
                "numeric.deep_linear.fine_tune(weights, X, y)",
                "numeric.deep_linear.fine_tune(X, y, weights)",
            ),
            "deep_linear.fine_tune (list, gd)": (
                lambda: ndl.fine_tune(list(ws), X, y, solver="gd"),  # type: ignore[arg-type]
                lambda: ndl.fine_tune(X, y, list(ws), solver="gd"),
                "numeric.deep_linear.fine_tune(weights, X, y)",
                "numeric.deep_linear.fine_tune(X, y, weights)",
            ),
            "deep_linear.layer_gradients": (
                lambda: ndl.layer_gradients(ws, X, y),  # type: ignore[arg-type]
                lambda: ndl.layer_gradients(X, y, ws),
                "numeric.deep_linear.layer_gradients(weights, X, y)",
                "numeric.deep_linear.layer_gradients(X, y, weights)",
            ),
            "relu_ntk.fine_tune": (
                lambda: nr.fine_tune(net, Xr, yr, rtol=1e-6),  # type: ignore[arg-type]
                lambda: nr.fine_tune(Xr, yr, net, rtol=1e-6),
                "numeric.relu_ntk.fine_tune(network, X, y)",
                "numeric.relu_ntk.fine_tune(X, y, network)",
            ),
            "relu_ntk.loss_gradient": (
                lambda: nr.loss_gradient(net, Xr, yr),  # type: ignore[arg-type]
                lambda: nr.loss_gradient(Xr, yr, net),
                "numeric.relu_ntk.loss_gradient(net, X, y)",
                "numeric.relu_ntk.loss_gradient(X, y, net)",
            ),
        }
    )


_register()


@pytest.mark.parametrize("label", list(OLD_LAYOUTS))
def test_old_layout_warns_and_gives_the_same_result(label: str) -> None:
    old, new, old_text, new_text = OLD_LAYOUTS[label]
    with pytest.warns(DeprecationWarning) as record:
        got = old()
    assert len(record) == 1
    message = str(record[0].message)
    assert old_text in message and f"use {new_text}" in message and "0.2.0" in message, message
    assert record[0].filename == __file__  # the warning points at the caller's line
    assert _same(got, _new_call_is_silent(new))


def test_other_layouts_are_the_new_order_with_the_usual_errors() -> None:
    X, y, ws = _deep_case()
    net = nr.init_network(8, 3, 0)
    with pytest.raises(InputError, match="weights"):
        ndl.fine_tune(X, y, ws[0])  # type: ignore[arg-type]
    with pytest.raises(InputError):
        ndl.fine_tune(X, ws, y)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="network must be a TwoLayerNet"):
        nr.fine_tune(X, y, X)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="net must be a TwoLayerNet"):
        nr.loss_gradient(X, net, y)  # type: ignore[arg-type]


def test_keyword_calls_need_no_order() -> None:
    X, y, ws = _deep_case()
    a = _new_call_is_silent(lambda: ndl.fine_tune(weights=ws, X=X, y=y, solver="gd"))
    assert _same(a, ndl.fine_tune(X, y, ws, solver="gd"))


# ------------------------------------------------------------------ the top level


@pytest.mark.parametrize("name", ["fine_tune", "fine_tune_many"])
def test_top_level_linear_aliases_are_deprecated(name: str) -> None:
    assert name not in numeric.__all__
    with pytest.deprecated_call(match=rf"numeric\.{name} is deprecated.*numeric\.linear\.{name}"):
        alias = getattr(numeric, name)
    assert alias is getattr(nl, name)


def test_top_level_fine_tune_returns_the_linear_result() -> None:
    X, y, ts = _task()
    with pytest.deprecated_call():
        got = numeric.fine_tune(X, y, ts)
    assert _same(got, nl.fine_tune(X, y, ts))


def test_unknown_top_level_names_still_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        numeric.no_such_name  # type: ignore[attr-defined]  # noqa: B018
