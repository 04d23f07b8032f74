import os
import secrets

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A generator seeded afresh for each test; the seed is printed so a
    failure can be replayed with SPATIAL_OPS_TEST_SEED."""
    seed = int(os.environ.get("SPATIAL_OPS_TEST_SEED", secrets.randbits(63)))
    print(f"random seed: {seed} (replay with SPATIAL_OPS_TEST_SEED={seed})")
    return np.random.default_rng(seed)
