"""Which front-end `import spatial_ops` brings in, by Keras backend. With
TensorFlow as the backend it loads the op library at import (so the ops are
registered and a bad build is reported there). On any other backend it
imports no TensorFlow: activations, the shape checks and _core work; the
fused layer trains on JAX and PyTorch with TensorFlow unimportable; on a
backend without a front-end (numpy) the fused layers refuse to be built,
naming the fix, fused=False layers train as plain keras.ops, and
spatial_dense and reference import the TensorFlow front-end on first use.
Each case runs in a fresh process: Keras fixes its backend at import."""

import os

import pytest

from helpers.processes import env_with_another_keras_backend, run_python


def test_tensorflow_backend_loads_the_op_library_at_import():
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_USE_LEGACY_KERAS", None)
    run_python(
        "import spatial_ops\nfrom spatial_ops.tensorflow._loader import LIBRARY\nassert LIBRARY.loaded\n", env=env
    )


def test_another_backend_imports_no_tensorflow():
    run_python(
        "import sys\n"
        "import spatial_ops\n"
        "from spatial_ops import _core\n"
        "from spatial_ops.activations import resolve\n"
        "assert resolve('gelu').table_row == 'gelu' and 'gelu' in spatial_ops.FUSED_ACTIVATION_NAMES\n"
        "assert _core.activation_names()\n"
        "assert 'tensorflow' not in sys.modules, 'import spatial_ops imported TensorFlow'\n",
        env=env_with_another_keras_backend(),
    )


def test_layers_refuse_another_backend():
    refusals = run_python(
        "import spatial_ops\n"
        "for make in (spatial_ops.SpatialDense, lambda: spatial_ops.Custom2DDense(2, 3),\n"
        "             lambda: spatial_ops.Custom2DDenseActivation(2, 3),\n"
        "             lambda: spatial_ops.Custom2DDenseSummation(2, 3)):\n"
        "    try:\n"
        "        make()\n"
        "    except NotImplementedError as error:\n"
        "        print(error)\n"
        "    else:\n"
        "        raise AssertionError(f'{make} built a layer on the numpy backend')\n",
        env=env_with_another_keras_backend(),
    ).splitlines()
    assert len(refusals) == 4
    for refusal in refusals:
        assert "backend in use is 'numpy'" in refusal and "KERAS_BACKEND=tensorflow" in refusal


def test_another_backend_imports_the_tensorflow_front_end_on_first_use():
    run_python(
        "import sys\n"
        "import numpy as np\n"
        "import spatial_ops\n"
        "assert 'tensorflow' not in sys.modules\n"
        "reference = spatial_ops.reference  # plain TensorFlow: no op library\n"
        "from spatial_ops.tensorflow._loader import LIBRARY\n"
        "assert 'tensorflow' in sys.modules and not LIBRARY.loaded\n"
        "x = np.linspace(-2, 2, 12, dtype=np.float32).reshape(2, 6)\n"
        "kernel = np.linspace(0.5, 1.5, 6, dtype=np.float32)\n"
        "y = spatial_ops.spatial_dense(x, kernel, activation='gelu')\n"
        "assert LIBRARY.loaded\n"
        "np.testing.assert_allclose(y, reference.spatial_dense(x, kernel, activation='gelu'), rtol=1e-6)\n",
        env=env_with_another_keras_backend(),
    )


COMPOSITE_TRAINS = """
import numpy as np
import keras
import spatial_ops
from spatial_ops.testing.criteria import assert_close
assert keras.backend.backend() == "jax"
keras.utils.set_random_seed(3)
layer = spatial_ops.SpatialDense(activation="gelu", kernel_initializer="random_normal",
                                 bias_initializer="random_normal", fused=False)
model = keras.Sequential([keras.Input((6, 5)), layer,
                          spatial_ops.SpatialDense(reduce_axis=-1, reduction="mean", fused=False),
                          keras.layers.Dense(1)])
x = np.random.default_rng(0).normal(size=(64, 6, 5)).astype(np.float32)
before = np.asarray(layer.kernel).copy()
model.compile("sgd", "mse")
model.fit(x, x[:, :3].mean(axis=(1, 2))[:, None], epochs=2, verbose=0)
assert not np.allclose(np.asarray(layer.kernel), before), "fit left the kernel unchanged"
kernel, bias = (np.asarray(w, np.float64) for w in layer.weights)
expected = spatial_ops.reference.spatial_dense(x.astype(np.float64), kernel, bias, activation="gelu")
assert_close(layer(x), expected, "float32", "the composite layer on JAX")
"""


def test_a_composite_layer_trains_on_jax():
    run_python(COMPOSITE_TRAINS, env=dict(env_with_another_keras_backend(), KERAS_BACKEND="jax"))


FUSED_WITHOUT_TENSORFLOW = """
import sys
sys.modules["tensorflow"] = None  # any import of TensorFlow now fails
import numpy as np
import keras
import spatial_ops
backend = keras.backend.backend()
layer = spatial_ops.SpatialDense(activation="gelu", kernel_initializer="random_normal")
model = keras.Sequential([keras.Input((6, 5)), layer, keras.layers.Dense(1)])
x = np.random.default_rng(0).normal(size=(32, 6, 5)).astype(np.float32)
before = keras.ops.convert_to_numpy(layer.kernel).copy()
model.compile("sgd", "mse")
model.fit(x, x[:, :3].mean(axis=(1, 2))[:, None], epochs=2, verbose=0)
assert not np.allclose(keras.ops.convert_to_numpy(layer.kernel), before), "fit left the kernel unchanged"
assert spatial_ops.spatial_dense.__module__ == f"spatial_ops.{backend}.ops"
print("ok")
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_fused_layer_trains_without_tensorflow(backend):
    env = dict(env_with_another_keras_backend(), KERAS_BACKEND=backend)
    assert run_python(FUSED_WITHOUT_TENSORFLOW, env=env).split()[-1] == "ok"
