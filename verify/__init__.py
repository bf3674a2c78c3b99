"""Claims that pair a closed form (``symbolic``) with training (``numeric``), and their runner.

Run ``python -m verify --help``. From Python::

    from verify import all_claims, run_claim, get_profile
    result = run_claim(all_claims()[0], get_profile("quick"))

BLAS threads: importing ``verify`` before NumPy pins OpenBLAS/OpenMP/MKL to one thread
(unless the variables are already set). Claims run in parallel processes or on Dask workers
(which pin them too), their matrices are small, and one thread per process avoids
oversubscribing the cores; it also gives every executor the same BLAS code path. Errors at
the rounding level still vary in their last bits between processes (memory alignment picks
kernels), so the runner floors the score Hypothesis climbs (see ``verify.runner``) and the
same seed gives the same report on any executor.
"""

import os as _os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

# The imports below come after pinning the BLAS threads (hence E402).
from finetune_theory import __version__  # noqa: E402
from verify.claim import Claim, Oracle, Outcome, Tolerance  # noqa: E402
from verify.profiles import Profile, get_profile  # noqa: E402
from verify.registry import all_claims  # noqa: E402
from verify.runner import ClaimResult, run_claim  # noqa: E402

__all__ = [
    "Claim",
    "ClaimResult",
    "Oracle",
    "Outcome",
    "Profile",
    "Tolerance",
    "__version__",
    "all_claims",
    "get_profile",
    "run_claim",
]
