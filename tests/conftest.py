"""Load the Hypothesis profile named by $FINETUNE_PROFILE (default ``quick``, derandomised).

The same variable chooses the profile of ``python -m verify``, so the property tests and the
verifier search equally hard in a given environment.
"""

from verify.profiles import load_hypothesis_profile

load_hypothesis_profile()
