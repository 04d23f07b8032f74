"""The PyTorch front-end (spatial_ops.torch): the kernels as two PyTorch
operators. Values and gradients against the float64 NumPy reference for
every activation, reduction and dtype, and bit for bit against the
TensorFlow op (the same kernels) where TensorFlow is installed; gradcheck and
gradgradcheck; torch.library.opcheck; torch.compile(fullgraph=True) of a
Keras model with the layer; errors. On the device the `device` fixture
names: the CPU operators here, the CUDA ones on a GPU machine."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.library import opcheck  # noqa: E402

import spatial_ops.torch as storch  # noqa: E402
from helpers.cases import draw_operands  # noqa: E402
from helpers.front_end_checks import SECOND_ORDER_CASES, ValueChecks  # noqa: E402
from helpers.processes import run_python  # noqa: E402


@pytest.fixture(scope="module")
def put(device):
    """NumPy arrays -> tensors on the tested device."""
    return lambda *arrays: tuple(torch.from_numpy(a).to(device) for a in arrays)


def torch_forward_and_gradients(device, x, kernel, bias, dy, **kwargs):
    """From NumPy and back; bfloat16 (which NumPy knows through ml_dtypes, not
    PyTorch) crosses as float32, exactly."""
    as_tensor = lambda a: (
        torch.from_numpy(np.asarray(a, np.float32)).to(torch.bfloat16)
        if a.dtype.name == "bfloat16"
        else torch.from_numpy(np.asarray(a))
    ).to(device)
    as_array = lambda t: (
        t.detach().cpu().float().numpy().astype(x.dtype) if t.dtype == torch.bfloat16 else t.detach().cpu().numpy()
    )
    operands = [as_tensor(a).requires_grad_() for a in (x, kernel, bias) if a is not None]
    y = (
        storch.spatial_dense(*operands, **kwargs)
        if bias is not None
        else storch.spatial_dense(*operands, None, **kwargs)
    )
    grads = torch.autograd.grad(y, operands, grad_outputs=as_tensor(dy))
    return as_array(y), [as_array(g) for g in grads]


class TestTorchValues(ValueChecks):
    forward_and_gradients = staticmethod(torch_forward_and_gradients)


@pytest.mark.parametrize("activation,reduce_axis,reduction", SECOND_ORDER_CASES, ids=str)
def test_gradcheck_and_gradgradcheck(rng, put, activation, reduce_axis, reduction):
    operands = [a.requires_grad_() for a in put(*draw_operands(rng, (4, 3, 5), (3, 5), "float64", kinks=(0.0,)))]
    fn = lambda x, k, b: storch.spatial_dense(
        x, k, b, activation=activation, reduce_axis=reduce_axis, reduction=reduction
    )
    assert torch.autograd.gradcheck(fn, operands)
    assert torch.autograd.gradgradcheck(fn, operands)


def test_a_third_derivative_is_refused(rng, put):
    x, kernel, bias = (a.requires_grad_() for a in put(*draw_operands(rng, (2, 3, 4), (3, 4), "float64")))
    (g1,) = torch.autograd.grad(storch.spatial_dense(x, kernel, bias, activation="tanh").sum(), x, create_graph=True)
    (g2,) = torch.autograd.grad(g1.sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="second order"):
        torch.autograd.grad(g2.sum(), x)


@pytest.mark.parametrize("has_bias", [True, False])
@pytest.mark.parametrize("reduction,begin,end", [("none", 2, 3), ("sum", 2, 3), ("mean", 1, 3)], ids=str)
def test_opcheck(rng, put, has_bias, reduction, begin, end):
    x, kernel, bias = put(*draw_operands(rng, (4, 5, 6), (5, 6), "float32"))
    bias = bias if has_bias else torch.zeros(0, device=x.device)
    attrs = ("gelu", [], reduction, has_bias, 0, begin, end)
    opcheck(
        torch.ops.spatial_ops.spatial_dense.default,
        (x.requires_grad_(), kernel.requires_grad_(), bias.requires_grad_(has_bias), *attrs),
    )
    dy = torch.randn(torch.ops.spatial_ops.spatial_dense(x, kernel, bias, *attrs).shape, device=x.device)
    opcheck(torch.ops.spatial_ops.spatial_dense_grad.default, (dy, x.detach(), kernel.detach(), bias.detach(), *attrs))


COMPILED_KERAS_MODEL = """
import numpy as np
import torch
import keras
import spatial_ops
assert keras.backend.backend() == "torch"
model = keras.Sequential([keras.Input((6, 5)),
                          spatial_ops.SpatialDense(activation="gelu", kernel_initializer="random_normal"),
                          spatial_ops.SpatialDense(reduce_axis=-1, reduction="mean"), keras.layers.Dense(1)])
x = keras.random.normal((8, 6, 5), seed=1)  # on the device Keras chose
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


def test_cuda_operators_run_on_the_current_stream(rng, device):
    """On a side stream, x is overwritten after a long wait, then the op reads
    it: an op launched on any other stream would read x before the write."""
    if device != "cuda":
        pytest.skip("the current CUDA stream needs a CUDA device (SPATIAL_OPS_TEST_DEVICE=cuda)")
    x, kernel, bias = (torch.from_numpy(a).cuda() for a in draw_operands(rng, (64, 32, 32), (32, 32), "float32"))
    fresh = torch.randn_like(x)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())  # the operands are ready
    with torch.cuda.stream(side):
        torch.cuda._sleep(100_000_000)  # cycles: tens of milliseconds
        x.copy_(fresh)
        y = storch.spatial_dense(x, kernel, bias, activation="gelu", reduce_axis=-1)
    side.synchronize()
    want = storch.spatial_dense(fresh, kernel, bias, activation="gelu", reduce_axis=-1)
    torch.testing.assert_close(y, want, rtol=0, atol=0)
