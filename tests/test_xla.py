"""XLA: under jit_compile the op and its gradients compile to custom calls of
the same kernels (bit for bit the fused op) where the library lowers them,
and to TensorFlow composites elsewhere; Keras' jit_compile="auto" keeps the
fused kernels where they cannot be lowered."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.processes import run_python
from helpers.support import assert_close, draw_operands

# Where the library lowers the op to XLA custom calls (TensorFlow releases
# whose headers allow it, on the CPU), jit-compiled code runs the same
# kernels with the same bits; elsewhere XLA compiles the composite.
LOWERED = spatial_ops.tensorflow.runs_fused_in_xla()
CASES = [
    ("gelu", None, "sum"),
    (spatial_ops.Activation("elu", alpha=0.3), -1, "mean"),
    (spatial_ops.Activation("relu", negative_slope=0.1, max_value=4.0), (1, 2), "sum"),
    ("softplus", 1, "sum"),
]


def _compiled_hlo(jitted, *args):
    return jitted.experimental_get_compiler_ir(*args)(stage="hlo")


def _assert_same(got, expected, dtype, what):
    if LOWERED:
        np.testing.assert_array_equal(
            tf.cast(got, tf.float64).numpy(), tf.cast(expected, tf.float64).numpy(), err_msg=what
        )
    else:
        assert_close(got, expected, dtype, what)


@pytest.mark.sanitized
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.float16, tf.bfloat16], ids=lambda d: d.name)
@pytest.mark.parametrize("activation, reduce_axis, reduction", CASES, ids=["gelu", "elu", "relu", "softplus"])
def test_jit_compiled_forward_and_gradients_run_the_fused_kernels(rng, dtype, activation, reduce_axis, reduction):
    x, kernel, bias = map(tf.constant, draw_operands(rng, (6, 5, 7), (5, 7), dtype))
    kwargs = dict(activation=activation, reduce_axis=reduce_axis, reduction=reduction)
    # An upstream gradient w: d sum(y w) / dy is w, bit for bit, with XLA or without.
    w = tf.constant(rng.normal(size=spatial_ops.spatial_dense(x, kernel, bias, **kwargs).shape), dtype)

    def forward_and_gradients(x, kernel, bias, w):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel, bias])
            y = spatial_ops.spatial_dense(x, kernel, bias, **kwargs)
            loss = tf.reduce_sum(y * w)
        return [y, *tape.gradient(loss, [x, kernel, bias])]

    jitted = tf.function(forward_and_gradients, jit_compile=True)
    hlo = _compiled_hlo(jitted, x, kernel, bias, w)
    lowered = 'custom_call_target="spatial_ops_spatial_dense"' in hlo
    assert lowered == LOWERED and ('custom_call_target="spatial_ops_spatial_dense_grad"' in hlo) == LOWERED
    for got, expected, what in zip(
        jitted(x, kernel, bias, w), forward_and_gradients(x, kernel, bias, w), ("y", "dx", "dkernel", "dbias")
    ):
        _assert_same(got, expected, dtype, what)


@pytest.mark.parametrize("activation, reduce_axis, reduction", CASES[:2], ids=["gelu", "elu"])
def test_jit_compiled_second_order_gradients(rng, activation, reduce_axis, reduction):
    x, kernel, bias = map(tf.constant, draw_operands(rng, (6, 5, 7), (5, 7), tf.float64))
    kwargs = dict(activation=activation, reduce_axis=reduce_axis, reduction=reduction)
    w = tf.constant(rng.normal(size=spatial_ops.spatial_dense(x, kernel, bias, **kwargs).shape))
    v = tf.constant(rng.normal(size=x.shape))

    def gradient_penalty_gradients(x, kernel, bias):
        with tf.GradientTape() as outer:
            outer.watch([x, kernel, bias])
            with tf.GradientTape() as inner:
                inner.watch(x)
                loss = tf.reduce_sum(spatial_ops.spatial_dense(x, kernel, bias, **kwargs) * w)
            penalty = tf.reduce_sum(inner.gradient(loss, x) * v)
        return outer.gradient(penalty, [x, kernel, bias])

    jitted = tf.function(gradient_penalty_gradients, jit_compile=True)
    assert ('custom_call_target="spatial_ops_spatial_dense_grad"' in _compiled_hlo(jitted, x, kernel, bias)) == LOWERED
    for got, expected, what in zip(
        jitted(x, kernel, bias), gradient_penalty_gradients(x, kernel, bias), ("d/dx", "d/dkernel", "d/dbias")
    ):
        # The second order adds TensorFlow element-wise ops, which XLA may fuse and round differently.
        assert_close(got, expected, tf.float64, what)


@pytest.mark.sanitized
@pytest.mark.skipif(not LOWERED, reason="this build does not lower the op to XLA")
def test_bad_shapes_are_refused_at_compile_time_with_the_ops_message():
    op = spatial_ops.tensorflow._loader.LIBRARY.spatial_ops_spatial_dense
    attrs = dict(
        activation="relu",
        activation_params=[],
        reduction="none",
        has_bias=True,
        derivative_order=0,
        reduce_begin=2,
        reduce_end=3,
    )
    # Unknown dimensions get past the shape function; XLA compiles for the real ones.
    jitted = tf.function(
        lambda x, kernel, bias: op(x, kernel, bias, **attrs),
        jit_compile=True,
        input_signature=[tf.TensorSpec([None] * 3), *[tf.TensorSpec([None] * 2)] * 2],
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[3, 5\]"):
        jitted(tf.ones((2, 3, 4)), tf.ones((3, 5)), tf.ones((3, 4)))


@pytest.mark.skipif(not LOWERED, reason="this build does not lower the op to XLA")
def test_importing_spatial_ops_after_an_xla_compilation_runs_the_composite_and_says_so():
    """XLA takes op registrations once, at its first compilation: a library
    loaded later cannot be compiled, so the wrapper keeps the composite and
    warns with the fix."""
    out = run_python(
        "import warnings\n"
        "import numpy as np\n"
        "import tensorflow as tf\n"
        "tf.function(lambda a: a * 2.0, jit_compile=True)(tf.ones(3))\n"
        "import spatial_ops\n"
        "x, kernel = tf.constant(np.linspace(-2, 2, 24, dtype=np.float32).reshape(2, 3, 4)), tf.ones((3, 4))\n"
        "f = tf.function(lambda x, kernel: spatial_ops.spatial_dense(x, kernel, activation='gelu'), jit_compile=True)\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    y = f(x, kernel)\n"
        "print(any('Import spatial_ops before the first XLA compilation' in str(w.message) for w in caught))\n"
        "print('custom-call' in f.experimental_get_compiler_ir(x, kernel)(stage='hlo'))\n"
        "print(np.abs(y.numpy() - spatial_ops.spatial_dense(x, kernel, activation='gelu').numpy()).max())\n"
    )
    warned, custom_call, error = out.split()[-3:]
    assert warned == "True" and custom_call == "False" and float(error) < 1e-6


def _model(fused, seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((6, 5)),
            spatial_ops.SpatialDense(activation="tanh", kernel_initializer="random_normal", fused=fused),
            spatial_ops.SpatialDense(reduce_axis=-1, reduction="mean", fused=fused),
            keras.layers.Dense(1),
        ]
    )


def test_model_compiled_with_jit_trains_like_the_fused_model(rng):
    x = rng.normal(size=(64, 6, 5)).astype(np.float32)
    y = rng.normal(size=(64, 1)).astype(np.float32)
    seed = int(rng.integers(2**31))
    trained = {}
    for jit_compile in (True, False):
        model = _model("auto", seed)
        model.compile(keras.optimizers.SGD(0.05), "mse", jit_compile=jit_compile)
        # Where the op cannot be lowered, the layer declines XLA (supports_jit).
        assert model.jit_compile is (jit_compile and LOWERED)
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        trained[jit_compile] = model.get_weights()
    for with_xla, fused in zip(trained[True], trained[False]):
        assert_close(with_xla, fused, tf.float32, "weights after training")


@pytest.fixture
def machine_with_a_gpu(monkeypatch):
    """Keras resolves jit_compile="auto" to XLA only where a GPU is listed."""
    listed = tf.config.list_physical_devices()
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(
        tf.config,
        "list_physical_devices",
        lambda device_type=None: listed + [gpu] if device_type in (None, "GPU") else listed,
    )


@pytest.mark.parametrize("jit_compile", ["auto", True])
@pytest.mark.parametrize("fused, expect_xla", [("auto", False), (True, False), (False, True)])
def test_jit_compile_keeps_the_fused_kernels_where_the_op_cannot_be_lowered(
    machine_with_a_gpu, jit_compile, fused, expect_xla
):
    """A GPU listed and a library without the CUDA handlers: every layer but
    a fused=False one declines XLA, and Keras compiles the model without it
    (an explicit True with Keras' warning)."""
    model = _model(fused, 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.compile("sgd", "mse", jit_compile=jit_compile)
    assert model.jit_compile is expect_xla
    declined = any("Proceeding with `jit_compile=False`" in str(w.message) for w in caught)
    assert declined is (jit_compile is True and not expect_xla)


def test_supports_jit_set_false_keeps_the_layer_out_of_xla():
    layer = spatial_ops.SpatialDense(fused=False)
    assert layer.supports_jit
    layer.supports_jit = False
    assert not layer.supports_jit


def test_fused_true_refuses_xla_where_the_op_cannot_be_lowered(machine_with_a_gpu):
    layer = spatial_ops.SpatialDense(fused=True, name="forced")
    x = tf.ones((2, 3, 4))
    layer(x)
    with pytest.raises(ValueError, match="'forced' has fused=True.*XLA"):
        tf.function(layer, jit_compile=True)(x)


@pytest.mark.skipif(not LOWERED, reason="this build does not lower the op to XLA")
def test_fused_true_compiles_with_xla_where_the_op_is_lowered(rng):
    layer = spatial_ops.SpatialDense(fused=True, activation="gelu", kernel_initializer="random_normal")
    x = tf.constant(rng.normal(size=(2, 3, 4)).astype(np.float32))
    np.testing.assert_array_equal(tf.function(layer, jit_compile=True)(x).numpy(), layer(x).numpy())


def test_fused_must_be_auto_true_or_false():
    with pytest.raises(ValueError, match='fused must be "auto", True or False, got 1'):
        spatial_ops.SpatialDense(fused=1)


def test_saved_jit_compiled_function_reloads_in_a_fresh_process(rng, tmp_path):
    x = rng.normal(size=(4, 3, 5)).astype(np.float32)
    module = tf.Module()
    module.kernel = tf.Variable(rng.normal(size=(3, 5)).astype(np.float32))
    module.f = tf.function(
        lambda x: spatial_ops.spatial_dense(x, module.kernel, activation="silu", reduce_axis=-1),
        jit_compile=True,
        input_signature=[tf.TensorSpec((None, 3, 5))],
    )
    expected = module.f(x).numpy()
    tf.saved_model.save(module, str(tmp_path / "model"))
    np.save(tmp_path / "x.npy", x)
    run_python(
        "import sys, numpy as np, tensorflow as tf\n"
        "import spatial_ops\n"
        "loaded = tf.saved_model.load(sys.argv[1])\n"
        "np.save(sys.argv[3], loaded.f(np.load(sys.argv[2])).numpy())\n",
        tmp_path / "model",
        tmp_path / "x.npy",
        tmp_path / "y.npy",
    )
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)
