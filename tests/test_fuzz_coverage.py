"""Every public function of ``symbolic`` and ``numeric`` is fuzzed (tests/fuzzing.py) or
exempt with a stated reason, so a new function cannot skip the robustness contract."""

from __future__ import annotations

import importlib
import inspect

#: The fuzz test files; each exports ``TARGETS`` and ``EXEMPT``.
FUZZ_MODULES = (
    "tests.numeric.test_fuzz_linear",
    "tests.numeric.test_fuzz_deep_linear",
    "tests.numeric.test_fuzz_relu_ntk",
    "tests.symbolic.test_fuzz_linear",
    "tests.symbolic.test_fuzz_deep_linear",
    "tests.symbolic.test_fuzz_relu_ntk",
)
#: The public modules whose ``__all__`` is the API under the contract.
PUBLIC_MODULES = (
    "numeric",
    "numeric.data",
    "numeric.linear",
    "numeric.deep_linear",
    "numeric.relu_ntk",
    "numeric.realdata",
    "symbolic",
    "symbolic.linear",
    "symbolic.deep_linear",
    "symbolic.relu_ntk",
)
#: Public callables outside the fuzzed modules' reach, with the reason.
EXEMPT = {
    "symbolic._provenance.provenance_of": "takes a derivation object, not numbers or arrays",
    "symbolic._provenance.provenance_parts": "takes a derivation object, not numbers or arrays",
    "symbolic._provenance.Provenance": "a record built by the derivations, not by users",
    "symbolic._render.derivation_page": "takes a derivation name, not numbers or arrays "
    "(unknown or non-string names: tests/symbolic/test_render.py)",
    "symbolic._render.render_latex": "takes a derivation object, not numbers or arrays "
    "(anything else: tests/symbolic/test_render.py)",
}


def _qualified(obj: object) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"  # type: ignore[attr-defined]


def public_callables() -> dict[str, object]:
    found: dict[str, object] = {}
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                found[_qualified(obj)] = obj
    return found


def test_every_public_function_is_fuzzed_or_exempt() -> None:
    covered: set[str] = set(EXEMPT)
    for name in FUZZ_MODULES:
        module = importlib.import_module(name)
        covered |= {t.name for t in module.TARGETS}
        for qualified, reason in module.EXEMPT.items():
            assert reason.strip(), f"{name}: exemption of {qualified} gives no reason"
            covered.add(qualified)
    missing = sorted(set(public_callables()) - covered)
    assert not missing, f"public callables neither fuzzed nor exempt: {missing}"
