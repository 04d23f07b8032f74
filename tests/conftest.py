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


@pytest.fixture(scope="session")
def device():
    """Where the front-end tests (JAX, PyTorch) put their arrays: "cpu", or
    "cuda" when SPATIAL_OPS_TEST_DEVICE=cuda (scripts/gpu/run_on_gpu.sh);
    each test file turns the name into its framework's device."""
    name = os.environ.get("SPATIAL_OPS_TEST_DEVICE", "cpu")
    if name not in ("cpu", "cuda"):
        raise pytest.UsageError(f"SPATIAL_OPS_TEST_DEVICE must be cpu or cuda, got {name!r}")
    return name


def _register_hypothesis_profiles():
    """Property tests (test_properties.py) run under one of three profiles:
    "ci" (chosen when CI=true: derandomized, so every run tries the same
    examples, and no example database), "dev" (the local default: fresh
    random examples, failures kept in .hypothesis/ and replayed first) and
    "thorough" (a long local run). SPATIAL_OPS_HYPOTHESIS_PROFILE picks one."""
    from hypothesis import HealthCheck, settings

    common = dict(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("ci", max_examples=200, derandomize=True, database=None, **common)
    settings.register_profile("dev", max_examples=200, **common)
    settings.register_profile("thorough", max_examples=5000, **common)
    default = "ci" if os.environ.get("CI", "").lower() in ("1", "true") else "dev"
    settings.load_profile(os.environ.get("SPATIAL_OPS_HYPOTHESIS_PROFILE", default))


_register_hypothesis_profiles()


def pytest_addoption(parser):
    parser.addoption(
        "--each-test-once",
        action="store_true",
        help="run the first parametrization of each test function only: a check that every test runs in an "
        "environment (the GPU machine's, without TensorFlow), not of every case, which the full run covers",
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--each-test-once"):
        return
    first, repeated, seen = [], [], set()
    for item in items:
        function = item.nodeid.split("[", 1)[0]
        (repeated if function in seen else first).append(item)
        seen.add(function)
    config.hook.pytest_deselected(items=repeated)
    items[:] = first
