import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Keras fixes its backend at import, and the composite peers of the JAX and
# PyTorch modules (spatial_ops.composite) run on it: such a module names the
# backend it needs, and runs in a process of that backend (benchmarks/report.py
# starts one per backend).
_BACKEND_OF_MODULE = {"test_bench_jax.py": "jax", "test_bench_torch.py": "torch"}


def pytest_ignore_collect(collection_path, config):
    needed = _BACKEND_OF_MODULE.get(collection_path.name)
    if needed is None:
        return None
    import keras

    return True if keras.backend.backend() != needed else None
