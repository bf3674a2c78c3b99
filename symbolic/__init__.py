"""Closed forms of the paper, derived by SymPy (docs/theory.md).

``symbolic.linear``: linear regression fine-tuned from θ_S (L1–L4).
``symbolic.deep_linear``: deep linear networks fine-tuned from balanced weights (D1–D6).
``symbolic.relu_ntk``: shallow ReLU networks in the NTK regime (K1–K3).

Each module offers ``derive_*`` functions (SymPy objects, with the textbook form beside the
derived one) and evaluation functions that take NumPy arrays. The most used names are
re-exported here; see ``docs/notation.md`` for symbol ↔ code name. Whether each ``derive_*``
result was derived by SymPy or is a stated answer that SymPy checks is recorded by
:func:`provenance_of` (and ``.provenance`` on each result; ``docs/theory.md``).

Every derivation renders as mathematics: a ``derive_*`` result displays itself in Jupyter
(``_repr_latex_``), ``.to_latex()`` / ``.to_markdown()`` give the text, and
:func:`derivation_page` the full Markdown page of a ``derive_*`` function by name (the pages in
``docs/derivations/`` are these, written by ``python -m verify derivations``).
"""

from typing import TYPE_CHECKING

from finetune_theory import __version__
from finetune_theory.deprecation import module_getattr
from symbolic import deep_linear, linear, relu_ntk
from symbolic._provenance import Provenance, provenance_of, provenance_parts
from symbolic._render import derivation_page, render_latex
from symbolic.deep_linear import (
    finetuned_end_to_end,
    frozen_layers_risk_floor,
    implicit_regularizer,
    scale_factor,
)
from symbolic.linear import (
    asymptotic_risk,
    excess_risk,
    expected_risk_isotropic,
    finetuned_weights,
    risk_decomposition,
    sample_complexity,
)
from symbolic.relu_ntk import (
    finetuned_predictor,
    first_layer_ntk,
    full_ntk,
    linear_teacher_bound,
    ntk,
)

__all__ = [
    "Provenance",
    "__version__",
    "asymptotic_risk",
    "deep_linear",
    "derivation_page",
    "excess_risk",
    "expected_risk_isotropic",
    "finetuned_end_to_end",
    "finetuned_predictor",
    "finetuned_weights",
    "first_layer_ntk",
    "frozen_layers_risk_floor",
    "full_ntk",
    "implicit_regularizer",
    "linear",
    "linear_teacher_bound",
    "ntk",
    "provenance_of",
    "provenance_parts",
    "relu_ntk",
    "render_latex",
    "risk_decomposition",
    "sample_complexity",
    "scale_factor",
]

if TYPE_CHECKING:  # the deprecated old names, typed as what they return at run time
    from symbolic.linear import risk_terms as risk_terms
    from symbolic.relu_ntk import gram as gram
    from symbolic.relu_ntk import ntk_gram as ntk_gram
else:
    #: Old top-level names, served with a DeprecationWarning until finetune-theory 0.2.0.
    __getattr__ = module_getattr(
        __name__,
        {
            "gram": (lambda: relu_ntk.first_layer_ntk, "symbolic.first_layer_ntk"),
            "ntk_gram": (lambda: relu_ntk.full_ntk, "symbolic.full_ntk"),
            "risk_terms": (
                lambda: linear.risk_terms,
                "symbolic.risk_decomposition(X, y, ...) (it takes the labels y, not the noise)",
            ),
        },
    )
