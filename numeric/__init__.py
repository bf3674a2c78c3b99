"""The paper's quantities obtained by actually training (gradient descent on the weights).

``numeric.data``: seeded inputs x ~ N(0, Σ), spectra, teachers θ_T = αθ_S + εζ, labels.
``numeric.linear``: full-batch gradient descent for linear regression from θ_S
(``numeric.linear.fine_tune``, ``fine_tune_many``), and Monte Carlo estimates of population
and expected risk.
``numeric.deep_linear``: deep linear networks trained on their layer matrices (gradient
descent or RK4 gradient flow), balanced factorisations and source pretraining.
``numeric.relu_ntk``: two-layer ReLU networks trained by gradient descent (source
pretraining, fine-tuning), their empirical NTK and Monte Carlo estimates of H^∞.

Each setting has its own ``fine_tune``; there is no top-level one (``numeric.fine_tune``
and ``numeric.fine_tune_many``, linear regression only, are deprecated aliases of the
``numeric.linear`` functions until finetune-theory 0.2.0). Trainers take the data first:
``fine_tune(X, y, start, ...)`` with ``start`` θ_S, the layer matrices or the network, then
keyword options. Result records hold Python scalars (int, float, bool) and float64 arrays.

Nothing here evaluates a closed form of the theory; ``verify`` pairs these results with the
``symbolic`` package.
"""

from typing import TYPE_CHECKING

from finetune_theory import __version__
from finetune_theory.deprecation import module_getattr
from numeric import data, deep_linear, linear, relu_ntk
from numeric.linear import GDResult, MonteCarloEstimate
from numeric.relu_ntk import TwoLayerNet, empirical_ntk, monte_carlo_gram, transfer

__all__ = [
    "GDResult",
    "MonteCarloEstimate",
    "TwoLayerNet",
    "__version__",
    "data",
    "deep_linear",
    "empirical_ntk",
    "linear",
    "monte_carlo_gram",
    "relu_ntk",
    "transfer",
]

if TYPE_CHECKING:  # the deprecated old names, typed as what they return at run time
    from numeric.linear import fine_tune as fine_tune
    from numeric.linear import fine_tune_many as fine_tune_many
else:
    #: Linear-regression-only names at the top level, served with a DeprecationWarning
    #: until finetune-theory 0.2.0.
    __getattr__ = module_getattr(
        __name__,
        {
            "fine_tune": (lambda: linear.fine_tune, "numeric.linear.fine_tune"),
            "fine_tune_many": (lambda: linear.fine_tune_many, "numeric.linear.fine_tune_many"),
        },
    )
