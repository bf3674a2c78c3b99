"""Realistic data for the experiments: real inputs and related real tasks (optional extra).

The digits of scikit-learn (``sklearn.datasets.load_digits``: 1797 images of 8×8 pixels,
bundled with the package, so nothing is downloaded) give a real, strongly anisotropic input
covariance. Each digit class c defines a task with labels 1{digit = c} (centred); its linear
teacher θ_c is the least-squares fit of those labels on the standardised pixels. Tasks of
visually similar digits (3 and 8, 5 and 9, …) have similar teachers: a source task and a
target task are *related* to a degree set by the data, not by us.

Needs the ``data`` extra (``pip install ".[data]"`` in a checkout, i.e. scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finetune_theory import checks
from finetune_theory.checks import FloatArray
from finetune_theory.errors import InputError
from numeric._records import float_array, set_field

__all__ = ["NON_CONSTANT_PIXELS", "DigitsTasks", "load_digit_tasks"]


@dataclass(frozen=True)
class DigitsTasks:
    """Standardised pixels and one linear teacher per digit.

    ``X``: (1797, d) pixels with zero-variance columns removed, centred and scaled to unit
    variance (61 columns), then, if ``components`` is given, projected on the leading
    principal directions (d = components); ``labels``: (10, 1797) centred indicators
    1{digit = c} − P(digit = c);
    ``teachers``: (10, d) least-squares fits θ_c of ``labels[c]`` on X; ``noise_var``: (10,)
    residual variances mean((labels[c] − Xθ_c)²), the label noise σ² each task has around its
    linear teacher; ``cov``: XᵀX/N, the empirical covariance of the inputs.
    """

    X: FloatArray
    labels: FloatArray
    teachers: FloatArray
    noise_var: FloatArray
    cov: FloatArray

    def __post_init__(self) -> None:
        for name in ("X", "labels", "teachers", "noise_var", "cov"):
            set_field(self, name, float_array(getattr(self, name)))


#: Pixels of the 8×8 digits whose value varies over the 1797 images.
NON_CONSTANT_PIXELS = 61


def load_digit_tasks(components: int | None = 30) -> DigitsTasks:
    """Load the digits and build the ten tasks (see :class:`DigitsTasks`).

    ``components``: keep the coordinates of the standardised pixels along their leading
    ``components`` principal directions (an integer in 1 … 61; default 30 for backward
    compatibility, covariance condition number ≈ 16). ``None`` (or 61) keeps all 61
    standardised pixels (condition number ≈ 150; ``None`` leaves them unrotated, 61 rotates
    them to principal coordinates — the same tasks in another basis). Small subsets of
    the rows of the full X are badly conditioned (κ(XXᵀ) up to ~1e3 at n = 20 images and
    ~2e4 at n = 40, where plain GD needs ~κ·ln(1/rtol) steps), so train on it with
    ``numeric.linear.fine_tune_many(..., method="cg")``.
    """
    if components is not None:
        components = checks.positive_int(components, "components")
        if components > NON_CONSTANT_PIXELS:
            raise InputError(
                f"components must be at most {NON_CONSTANT_PIXELS} (the non-constant "
                f"pixels), got {components}"
            )
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            'the realistic-data experiment needs scikit-learn: pip install ".[data]"'
        ) from exc
    raw = load_digits()
    pixels = np.asarray(raw.data, dtype=np.float64)
    keep = pixels.std(axis=0) > 0
    X = pixels[:, keep]
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    if components is not None:
        _, vecs = np.linalg.eigh(X.T @ X)
        X = X @ vecs[:, ::-1][:, :components]  # principal coordinates, largest variance first
    target = np.asarray(raw.target)
    labels = np.stack([(target == c).astype(np.float64) for c in range(10)])
    labels -= labels.mean(axis=1, keepdims=True)
    teachers, *_ = np.linalg.lstsq(X, labels.T, rcond=None)
    residual = labels - (X @ teachers).T
    return DigitsTasks(
        X=X,
        labels=labels,
        teachers=np.asarray(teachers.T, dtype=np.float64),
        noise_var=np.mean(residual**2, axis=1),
        cov=X.T @ X / X.shape[0],
    )
