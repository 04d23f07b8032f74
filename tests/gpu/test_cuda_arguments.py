"""The pybind11 binding's handling of device arrays, checked without a GPU:
objects that present __cuda_array_interface__ (as CuPy arrays and PyTorch
tensors do) but point nowhere, since every argument is checked before any
CUDA call."""

import numpy as np
import pytest


class DeviceArray:
    """Just the __cuda_array_interface__ of a device array."""

    def __init__(self, shape, typestr="<f4", strides=None, readonly=False, pointer=1 << 32):
        self.__cuda_array_interface__ = {
            "shape": tuple(shape),
            "typestr": typestr,
            "data": (pointer, readonly),
            "strides": strides,
            "version": 3,
            "stream": 1,
        }


def test_device_arrays_need_a_cuda_build(core):
    if core.built_with_cuda:
        pytest.skip("this _core is built with CUDA")
    with pytest.raises(ValueError, match="built without CUDA"):
        core.forward(DeviceArray((2, 1, 1, 3)), DeviceArray((1, 1, 3)), out=DeviceArray((2, 1, 1, 3)))


def test_mixing_host_and_device_arrays_is_refused(core):
    with pytest.raises(ValueError, match="mixed host and device arrays: x is a CUDA device array but kernel is a host"):
        core.forward(DeviceArray((2, 1, 1, 3)), np.zeros((1, 1, 3), np.float32))
    with pytest.raises(ValueError, match="mixed host and device arrays: x is a host array but out is a CUDA"):
        core.forward(np.zeros((2, 1, 1, 3), np.float32), np.zeros((1, 1, 3), np.float32), out=DeviceArray((2, 1, 1, 3)))


X, W = (2, 3, 4, 5), (3, 4, 5)


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda c: c.forward(DeviceArray((2,)), DeviceArray((3,)), out=DeviceArray((2,))),
            r"x must have rank >= 2.*x \[2\], kernel \[3\]",
        ),
        (
            lambda c: c.forward(DeviceArray(X), DeviceArray((3, 4, 6)), out=DeviceArray(X)),
            r"kernel must be .*x \[2, 3, 4, 5\], kernel \[3, 4, 6\]",
        ),
        (
            lambda c: c.forward(DeviceArray(X), DeviceArray(W, "<f2"), out=DeviceArray(X)),
            r"mixed dtypes: x float32 \[2, 3, 4, 5\] \(CUDA device array\) but kernel float16",
        ),
        (lambda c: c.forward(DeviceArray(X, "<i4"), DeviceArray(W, "<i4"), out=DeviceArray(X)), r"x has dtype '<i4'"),
        (
            lambda c: c.forward(DeviceArray(X), DeviceArray(W)),
            r"device arrays need out=: pass preallocated out \[2, 3, 4, 5\]",
        ),
        (
            lambda c: c.forward(DeviceArray(X), DeviceArray(W), reduction="sum", out=DeviceArray(X)),
            r"out must be float32 \[2, 3, 5\] for x float32 \[2, 3, 4, 5\].*got out float32 \[2, 3, 4, 5\]",
        ),
        (
            lambda c: c.forward(DeviceArray(X), DeviceArray(W), out=DeviceArray(X, readonly=True)),
            r"out float32 \[2, 3, 4, 5\] \(CUDA device array\) is read-only",
        ),
        (
            lambda c: c.forward(DeviceArray(X, strides=(240, 80, 20, 8)), DeviceArray(W), out=DeviceArray(X)),
            r"x float32 \[2, 3, 4, 5\] \(CUDA device array\) is not C-contiguous",
        ),
        (
            lambda c: c.backward(
                DeviceArray((2, 3, 5)), DeviceArray(X), DeviceArray(W), out=(DeviceArray(X), DeviceArray(W), None)
            ),
            r"dy must have the forward output's shape \[2, 3, 4, 5\], got dy \[2, 3, 5\]",
        ),
        (
            lambda c: c.backward(DeviceArray(X), DeviceArray(X), DeviceArray(W), DeviceArray(W)),
            r"device arrays need out=: pass preallocated out=\(dx, dkernel, dbias\)",
        ),
        (
            lambda c: c.backward(
                DeviceArray(X),
                DeviceArray(X),
                DeviceArray(W),
                DeviceArray(W),
                out=(DeviceArray(X), DeviceArray(X), DeviceArray(W)),
            ),
            r"dkernel must be float32 \[3, 4, 5\].*got dkernel float32 \[2, 3, 4, 5\]",
        ),
        (
            lambda c: c.backward(
                DeviceArray(X), DeviceArray(X), DeviceArray(W), out=(DeviceArray(X), DeviceArray(W), DeviceArray(W))
            ),
            r"out must be \(dx, dkernel, dbias\), with dbias None when there is no bias",
        ),
    ],
    ids=range(12),
)
def test_errors_name_the_arrays_and_shapes(cuda_core, call, match):
    with pytest.raises(ValueError, match=match):
        call(cuda_core)


def test_strided_views_of_size_one_axes_count_as_contiguous(cuda_core):
    """Strides of axes of length 1 are arbitrary (PyTorch gives such views):
    the call passes every check and fails only at the CUDA call, which here
    finds no device or no memory at the made-up address."""
    x = DeviceArray((2, 1, 4, 5), strides=(80, 999, 20, 4))
    with pytest.raises(RuntimeError, match="device"):
        cuda_core.forward(x, DeviceArray((1, 4, 5)), out=DeviceArray((2, 1, 4, 5)))


def test_stream_is_for_device_arrays_only(core):
    with pytest.raises(ValueError, match="stream= applies to device arrays only"):
        core.forward(np.zeros(X, np.float32), np.zeros(W, np.float32), stream=7)


def test_host_out_is_filled_and_returned(core, rng):
    x, kernel = rng.normal(size=X), rng.normal(size=W)
    out = np.full(X, np.nan)
    assert core.forward(x, kernel, activation="relu", out=out) is out
    np.testing.assert_array_equal(out, np.maximum(x * kernel, 0))
    dx, dkernel = np.full(X, np.nan), np.full(W, np.nan)
    result = core.backward(np.ones(X), x, kernel, activation="relu", out=(dx, dkernel, None))
    assert result[0] is dx and result[1] is dkernel and result[2] is None
    np.testing.assert_array_equal(dx, np.where(x * kernel > 0, kernel, 0))
    np.testing.assert_array_equal(dkernel, np.where(x * kernel > 0, x, 0).sum(axis=0))
