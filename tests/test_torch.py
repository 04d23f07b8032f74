"""The PyTorch front-end (spatial_ops.torch): the kernels as two PyTorch
operators. Values and gradients against the float64 reference for every
activation, reduction and dtype, and bit for bit against the TensorFlow op
(the same kernels); gradcheck and gradgradcheck; torch.library.opcheck;
torch.compile(fullgraph=True) of a Keras model with the layer; errors."""

import os

import numpy as np
import pytest
import tensorflow as tf

torch = pytest.importorskip("torch")
from torch.library import opcheck  # noqa: E402

import spatial_ops  # noqa: E402
import spatial_ops.torch as storch  # noqa: E402
from helpers.processes import run_python  # noqa: E402
from helpers.support import (ACTIVATIONS, ACTIVATION_IDS, DTYPES, REDUCTIONS_3D, REDUCTIONS_4D,  # noqa: E402
                             assert_close, draw_operands, numpy_dtype, reference_dtype)

TORCH_DTYPES = {tf.float16: torch.float16, tf.bfloat16: torch.bfloat16, tf.float32: torch.float32,
                tf.float64: torch.float64}


def _to_torch(array, dtype):
    """A CPU tensor of dtype from NumPy (bfloat16 through float32: NumPy has none)."""
    return torch.from_numpy(np.asarray(array, np.float64)).to(TORCH_DTYPES[dtype])


def _to_numpy(tensor):
    return tensor.detach().to(torch.float64).numpy() if tensor.dtype == torch.bfloat16 else tensor.detach().numpy()


def _torch_forward_and_gradients(x, kernel, bias, dy, dtype, **kwargs):
    operands = [_to_torch(a, dtype).requires_grad_() for a in (x, kernel, bias) if a is not None]
    y = storch.spatial_dense(*operands, **kwargs) if bias is not None else \
        storch.spatial_dense(*operands, None, **kwargs)
    grads = torch.autograd.grad(y, operands, grad_outputs=_to_torch(dy, dtype))
    return y, grads


def _tf_forward_and_gradients(fn, x, kernel, bias, dy, **kwargs):
    operands = [tf.constant(a) for a in (x, kernel, bias) if a is not None]
    with tf.GradientTape() as tape:
        tape.watch(operands)
        y = fn(*operands, **kwargs) if bias is not None else fn(*operands, None, **kwargs)
    return y, tape.gradient(y, operands, output_gradients=tf.constant(dy))


def check_against_reference_and_tf(rng, activation, kinks, x_shape, weight_shape, dtype, use_bias=True,
                                   bitwise=True, **kwargs):
    x, kernel, bias = draw_operands(rng, x_shape, weight_shape, dtype, kinks, use_bias=use_bias)
    kwargs = dict(activation=activation, **kwargs)
    out_shape = spatial_ops.reference.spatial_dense(x, kernel, bias, **kwargs).shape
    dy = rng.normal(size=out_shape).astype(numpy_dtype(dtype))
    y, grads = _torch_forward_and_gradients(x, kernel, bias, dy, dtype, **kwargs)
    ref = numpy_dtype(reference_dtype(dtype))
    as_ref = lambda a: None if a is None else a.astype(ref)
    want_y, want_grads = _tf_forward_and_gradients(spatial_ops.reference.spatial_dense, as_ref(x), as_ref(kernel),
                                                   as_ref(bias), dy.astype(ref), **kwargs)
    tf_y, tf_grads = _tf_forward_and_gradients(spatial_ops.spatial_dense, x, kernel, bias, dy, **kwargs)
    for name, got, want, same_kernels in zip(("y", "dx", "dkernel", "dbias"), (y, *grads), (want_y, *want_grads),
                                             (tf_y, *tf_grads)):
        assert got.dtype == TORCH_DTYPES[dtype], name
        assert_close(_to_numpy(got), want, dtype, what=name)
        if bitwise:
            np.testing.assert_array_equal(_to_numpy(got), tf.cast(same_kernels, tf.float64).numpy()
                                          if dtype == tf.bfloat16 else same_kernels.numpy(),
                                          err_msg=f"{name} vs the TF op")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS_3D, ids=str)
@pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_every_activation_reduction_dtype(rng, case, reduce_axis, reduction, dtype):
    check_against_reference_and_tf(rng, case.activation, case.kinks, (6, 5, 7), (5, 7), dtype,
                                   reduce_axis=reduce_axis, reduction=reduction)


@pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS_4D, ids=str)
def test_several_reduced_axes(rng, reduce_axis, reduction):
    check_against_reference_and_tf(rng, "gelu", (), (3, 4, 5, 6), (4, 5, 6), tf.float64, bitwise=False,
                                   reduce_axis=reduce_axis, reduction=reduction)


@pytest.mark.parametrize("x_shape,weight_shape,reduce_axis", [
    ((6, 5, 7), (7,), None), ((6, 5, 7), (5, 1), -1), ((6, 5, 7), (), 1), ((2, 4, 5, 3), (4, 5, 1), (1, 2)),
    ((0, 5, 7), (5, 7), -1), ((4, 5000), (5000,), -1),
], ids=str)
@pytest.mark.parametrize("use_bias", [True, False])
def test_shapes_and_broadcast_weights(rng, x_shape, weight_shape, reduce_axis, use_bias):
    check_against_reference_and_tf(rng, "silu", (), x_shape, weight_shape, tf.float64, use_bias=use_bias,
                                   bitwise=False, reduce_axis=reduce_axis)


@pytest.mark.parametrize("activation,reduce_axis,reduction", [
    ("tanh", None, "sum"), ("gelu", -1, "sum"), ("softplus", (1, 2), "mean"), ("elu", 1, "mean"),
    (spatial_ops.Activation("celu", alpha=0.7), -1, "sum"),
], ids=str)
def test_gradcheck_and_gradgradcheck(rng, activation, reduce_axis, reduction):
    operands = [torch.from_numpy(a).requires_grad_()
                for a in draw_operands(rng, (4, 3, 5), (3, 5), tf.float64, kinks=(0.0,))]
    fn = lambda x, k, b: storch.spatial_dense(x, k, b, activation=activation, reduce_axis=reduce_axis,
                                              reduction=reduction)
    assert torch.autograd.gradcheck(fn, operands)
    assert torch.autograd.gradgradcheck(fn, operands)


def test_a_third_derivative_is_refused(rng):
    x, kernel, bias = (torch.from_numpy(a).requires_grad_() for a in draw_operands(rng, (2, 3, 4), (3, 4),
                                                                                  tf.float64))
    (g1,) = torch.autograd.grad(storch.spatial_dense(x, kernel, bias, activation="tanh").sum(), x, create_graph=True)
    (g2,) = torch.autograd.grad(g1.sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="second order"):
        torch.autograd.grad(g2.sum(), x)


@pytest.mark.parametrize("has_bias", [True, False])
@pytest.mark.parametrize("reduction,begin,end", [("none", 2, 3), ("sum", 2, 3), ("mean", 1, 3)], ids=str)
def test_opcheck(rng, has_bias, reduction, begin, end):
    x, kernel, bias = (torch.from_numpy(a) for a in draw_operands(rng, (4, 5, 6), (5, 6), tf.float32))
    bias = bias if has_bias else torch.zeros(0)
    attrs = ("gelu", [], reduction, has_bias, 0, begin, end)
    opcheck(torch.ops.spatial_ops.spatial_dense.default,
            (x.requires_grad_(), kernel.requires_grad_(), bias.requires_grad_(has_bias), *attrs))
    dy = torch.randn(torch.ops.spatial_ops.spatial_dense(x, kernel, bias, *attrs).shape)
    opcheck(torch.ops.spatial_ops.spatial_dense_grad.default,
            (dy, x.detach(), kernel.detach(), bias.detach(), *attrs))


COMPILED_KERAS_MODEL = """
import numpy as np
import torch
import keras
import spatial_ops
assert keras.backend.backend() == "torch"
model = keras.Sequential([keras.Input((6, 5)),
                          spatial_ops.SpatialDense(activation="gelu", kernel_initializer="random_normal"),
                          spatial_ops.SpatialDense(reduce_axis=-1, reduction="mean"), keras.layers.Dense(1)])
x = torch.randn(8, 6, 5)
compiled = torch.compile(model, fullgraph=True)  # fails on any graph break
assert torch.equal(compiled(x), model(x))
graph_ops = []
def count(gm, example_inputs):
    graph_ops.extend(str(node.target) for node in gm.graph.nodes if node.op == "call_function")
    return gm.forward
torch._dynamo.reset()
torch.compile(model, fullgraph=True, backend=count)(x)
assert sum("spatial_dense" in op for op in graph_ops) == 2, graph_ops
print("ok")
"""


def test_torch_compile_takes_a_keras_model_whole():
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_USE_LEGACY_KERAS", None)
    assert run_python(COMPILED_KERAS_MODEL, env=env, timeout=600).split()[-1] == "ok"


def test_bad_input_names_the_shapes():
    x = torch.zeros(2, 3, 4)
    with pytest.raises(ValueError, match=r"kernel shape \(3, 5\) does not broadcast .*\(2, 3, 4\)"):
        storch.spatial_dense(x, torch.ones(3, 5))
    with pytest.raises(ValueError, match=r"mixed dtypes: x is float32 \(2, 3, 4\) but kernel is float64"):
        storch.spatial_dense(x, torch.ones(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="includes axis 0, the batch axis"):
        storch.spatial_dense(x, torch.ones(3, 4), reduce_axis=0)
    with pytest.raises(ValueError, match="supported dtypes"):
        storch.spatial_dense(torch.zeros(2, 3, dtype=torch.int32), torch.ones(3, dtype=torch.int32))
