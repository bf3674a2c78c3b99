"""The paper's quantities obtained by actually training (gradient descent on the weights).

``numeric.data``: seeded inputs x ~ N(0, Σ), spectra, teachers θ_T = αθ_S + εζ, labels.
``numeric.linear``: full-batch gradient descent for linear regression from θ_S, and Monte
Carlo estimates of population and expected risk.
``numeric.deep_linear``: deep linear networks trained on their layer matrices (gradient
descent or RK4 gradient flow), balanced factorisations and source pretraining.

Nothing here evaluates a closed form of the theory; ``verify`` pairs these results with the
``symbolic`` package.
"""

from numeric import data, deep_linear, linear
from numeric.linear import GDResult, MonteCarloEstimate, fine_tune, fine_tune_many

__all__ = [
    "GDResult",
    "MonteCarloEstimate",
    "data",
    "deep_linear",
    "fine_tune",
    "fine_tune_many",
    "linear",
]
