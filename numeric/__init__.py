"""The paper's quantities obtained by actually training (gradient descent on the weights).

``numeric.data``: seeded inputs x ~ N(0, Σ), spectra, teachers θ_T = αθ_S + εζ, labels.
``numeric.linear``: full-batch gradient descent for linear regression from θ_S, and Monte
Carlo estimates of population and expected risk.
``numeric.deep_linear``: deep linear networks trained on their layer matrices (gradient
descent or RK4 gradient flow), balanced factorisations and source pretraining.
``numeric.relu_ntk``: two-layer ReLU networks trained by gradient descent (source
pretraining, fine-tuning), their empirical NTK and Monte Carlo estimates of H^∞.

Nothing here evaluates a closed form of the theory; ``verify`` pairs these results with the
``symbolic`` package.
"""

from finetune_theory import __version__
from numeric import data, deep_linear, linear, relu_ntk
from numeric.linear import GDResult, MonteCarloEstimate, fine_tune, fine_tune_many
from numeric.relu_ntk import TwoLayerNet, empirical_ntk, monte_carlo_gram, transfer

__all__ = [
    "GDResult",
    "MonteCarloEstimate",
    "TwoLayerNet",
    "__version__",
    "data",
    "deep_linear",
    "empirical_ntk",
    "fine_tune",
    "fine_tune_many",
    "linear",
    "monte_carlo_gram",
    "relu_ntk",
    "transfer",
]
