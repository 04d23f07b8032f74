"""The fused op in float64 NumPy, for the tests that run without TensorFlow
(the JAX and PyTorch suites, the GPU tests: the GPU machines have no
TensorFlow, so spatial_ops.reference cannot serve there). Each row of the
kernels' activation table (csrc/core/activation_table.h) is written here as
plain math with the constants of the TensorFlow ops Keras calls;
tests/gpu/test_numpy_reference.py checks every row, and the op as a user
calls it (value_and_gradients), against spatial_ops.reference and
TensorFlow's gradients wherever TensorFlow is installed.

Only values away from kinks are defined: the tests draw operands there.
Importable without TensorFlow or Keras; value_and_gradients needs Keras
(spatial_ops.activations names the table row of a user's activation)."""

import math

import numpy as np

# tf.nn.gelu holds these in float32, whatever the dtype.
_GELU_C = float(np.float32(0.7071067811865476))
_GELU_TANH_K1 = float(np.float32(0.044715))
_GELU_TANH_K0 = math.sqrt(2 / math.pi)
_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_ALPHA = 1.6732632423543772848170429916717
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(z / 2))


def _step(condition, value=1.0):
    return np.where(condition, value, 0.0)


def _relu_general(z, slope, max_value, threshold):
    has_max = max_value < math.inf
    positive = np.where(z > threshold, z, 0.0)
    if has_max:
        positive = np.clip(positive, 0.0, max_value)
    value = positive - slope * np.maximum(threshold - z, 0.0)
    passes = (z > threshold) & ((z < max_value) if has_max else True)
    return value, _step(passes) + slope * _step(z < threshold), np.zeros_like(z)


def _gelu(z):
    zc = z * _GELU_C
    density = _GELU_C / math.sqrt(math.pi) * np.exp(-zc * zc)
    return 0.5 * z * _erfc(-zc), 0.5 * _erfc(-zc) + z * density, density * (2 - 2 * zc * zc)


def _gelu_tanh(z):
    k0, k1 = _GELU_TANH_K0, _GELU_TANH_K1
    t = np.tanh(k0 * (z + k1 * z**3))
    sech2 = 1 - t * t
    du, d2u = k0 * (1 + 3 * k1 * z * z), 6 * k0 * k1 * z
    return (0.5 * z * (1 + t), 0.5 * (1 + t) + 0.5 * z * sech2 * du, sech2 * (du + 0.5 * z * (d2u - 2 * t * du * du)))


def _sigmoid_row(z):
    s = _sigmoid(z)
    return s, s * (1 - s), s * (1 - s) * (1 - 2 * s)


def _log_sigmoid(z):
    s = _sigmoid(z)
    return -np.logaddexp(0.0, -z), 1 - s, -s * (1 - s)


def _tanh(z):
    t = np.tanh(z)
    return t, 1 - t * t, -2 * t * (1 - t * t)


def _tanh_shrink(z):
    t = np.tanh(z)
    return z - t, t * t, 2 * t * (1 - t * t)


def _softplus(z):
    s = _sigmoid(z)
    return np.logaddexp(0.0, z), s, s * (1 - s)


def _sparse_plus(z):
    inside = (z > -1) & (z < 1)
    value = np.where(z <= -1, 0.0, np.where(z < 1, 0.25 * (z + 1) ** 2, z))
    return value, np.where(z <= -1, 0.0, np.where(z < 1, 0.5 * (z + 1), 1.0)), _step(inside, 0.5)


def _squareplus(z, b):
    r = np.sqrt(z * z + b)
    return (z + r) / 2, 0.5 * (1 + z / r), 0.5 * b / r**3


def _softsign(z):
    d = 1 + np.abs(z)
    return z / d, 1 / d**2, -2 * np.sign(z) / d**3


def _silu(z):
    s = _sigmoid(z)
    return z * s, s * (1 + z * (1 - s)), s * (1 - s) * (2 + z * (1 - 2 * s))


def _hard_silu(z):
    hs, dhs = np.clip(z + 3, 0, 6) / 6, _step((z > -3) & (z < 3), 1 / 6)
    return z * hs, hs + z * dhs, 2 * dhs


def _mish(z):
    # tanh(softplus(z)) = (1 - q^2) / (1 + q^2) with q = 1 / (1 + e^z), so
    # that 1 - t^2 = 4 q^2 / (1 + q^2)^2 keeps its digits where t nears 1.
    s, q = _sigmoid(z), np.exp(-np.logaddexp(0.0, z))
    t, sech2 = (1 - q * q) / (1 + q * q), 4 * q * q / (1 + q * q) ** 2
    return (z * t, t + z * sech2 * s, sech2 * s * (2 + z * ((1 - s) - 2 * t * s)))


def _piecewise_linear(value, slope):
    return lambda z, *p: (value(z, *p), slope(z, *p), np.zeros_like(z))


# Table row -> f(z, *params) returning (value, derivative, second derivative).
ROWS = {
    "linear": _piecewise_linear(lambda z: z, lambda z: np.ones_like(z)),
    "relu": _piecewise_linear(lambda z: np.maximum(z, 0.0), lambda z: _step(z > 0)),
    "relu_general": _relu_general,
    "relu6": _piecewise_linear(lambda z: np.clip(z, 0, 6), lambda z: _step((z > 0) & (z < 6))),
    "leaky_relu": _piecewise_linear(lambda z, a: np.where(z > 0, z, a * z), lambda z, a: np.where(z > 0, 1.0, a)),
    "elu": lambda z, a: (
        np.where(z > 0, z, a * np.expm1(z)),
        np.where(z > 0, 1.0, a * np.exp(z)),
        np.where(z < 0, a * np.exp(z), 0.0),
    ),
    "celu": lambda z, a: (
        np.maximum(z, 0) + a * np.expm1(np.minimum(z, 0) / a),
        np.where(z > 0, 1.0, np.exp(z / a)),
        np.where(z < 0, np.exp(z / a) / a, 0.0),
    ),
    "selu": lambda z: (
        np.where(z < 0, _SELU_SCALE * _SELU_ALPHA * np.expm1(z), _SELU_SCALE * z),
        np.where(z < 0, _SELU_SCALE * _SELU_ALPHA * np.exp(z), _SELU_SCALE),
        np.where(z < 0, _SELU_SCALE * _SELU_ALPHA * np.exp(z), 0.0),
    ),
    "gelu": _gelu,
    "gelu_tanh": _gelu_tanh,
    "sigmoid": _sigmoid_row,
    "hard_sigmoid": _piecewise_linear(lambda z: np.clip(z + 3, 0, 6) / 6, lambda z: _step((z > -3) & (z < 3), 1 / 6)),
    "log_sigmoid": _log_sigmoid,
    "sparse_sigmoid": _piecewise_linear(
        lambda z: np.clip(0.5 * (z + 1), 0, 1), lambda z: _step((z > -1) & (z < 1), 0.5)
    ),
    "tanh": _tanh,
    "hard_tanh": _piecewise_linear(lambda z: np.clip(z, -1, 1), lambda z: _step((z > -1) & (z < 1))),
    "tanh_shrink": _tanh_shrink,
    "hard_shrink": _piecewise_linear(lambda z, a: np.where(np.abs(z) > a, z, 0.0), lambda z, a: _step(np.abs(z) > a)),
    "soft_shrink": _piecewise_linear(
        lambda z, a: np.where(z > a, z - a, np.where(z < -a, z + a, 0.0)), lambda z, a: _step(np.abs(z) > a)
    ),
    "softplus": _softplus,
    "sparse_plus": _sparse_plus,
    "squareplus": _squareplus,
    "softsign": _softsign,
    "silu": _silu,
    "hard_silu": _hard_silu,
    "mish": _mish,
    "exponential": lambda z: (np.exp(z),) * 3,
    "threshold": _piecewise_linear(lambda z, a, b: np.where(z > a, z, b), lambda z, a, b: _step(z > a)),
}


def activation(table_row, params, z, derivative_order=0):
    """(value, derivative) in z of the table row, or of its derivative when
    derivative_order is 1, as the kernels' derivative_order attribute."""
    terms = ROWS[table_row](z, *params)
    return terms[derivative_order], terms[derivative_order + 1]


def forward(x, kernel, bias, table_row, params, reduction="none", derivative_order=0):
    """y of the canonical view: x [B, A, R, C], weights [A, R, C]; float64."""
    z = x * kernel + (0.0 if bias is None else bias)
    y = activation(table_row, params, z, derivative_order)[0]
    if reduction == "none":
        return y
    total = y.sum(axis=2)
    return total / x.shape[2] if reduction == "mean" else total


def backward(dy, x, kernel, bias, table_row, params, reduction="none", derivative_order=0):
    """(dx, dkernel, dbias) of forward for the incoming gradient dy; float64."""
    z = x * kernel + (0.0 if bias is None else bias)
    slope = activation(table_row, params, z, derivative_order)[1]
    if reduction != "none":
        dy = dy[:, :, None, :] / (x.shape[2] if reduction == "mean" else 1)
    dz = dy * slope
    return dz * kernel, (dz * x).sum(axis=0), (None if bias is None else dz.sum(axis=0))


def _activation_and_slope(identifier, z):
    """A user's activation (None, a name, a Keras function, an Activation or
    any other callable) and its derivative at z. An unfused callable is
    differentiated by a complex step, f'(z) = Im f(z + ih) / h, exact to
    rounding for the arithmetic callables the tests pass."""
    from spatial_ops.activations import resolve

    resolved = resolve(identifier)
    if resolved.table_row is not None:
        return activation(resolved.table_row, resolved.params, z)
    step = 1e-30
    return np.asarray(resolved.fn(z), np.float64), np.imag(resolved.fn(z + 1j * step)) / step


def _sum_to(values, shape):
    """values summed over the axes that broadcasting to values.shape added to shape."""
    values = values.sum(axis=tuple(range(values.ndim - len(shape))))
    return values.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True).reshape(shape)


def value_and_gradients(x, kernel, bias, dy, *, activation=None, reduce_axis=None, reduction="sum"):
    """y and the gradients (dx, dkernel[, dbias]) for the incoming gradient dy
    of spatial_ops.spatial_dense as a user calls it: any rank, weights
    broadcast to the spatial shape, several reduced axes; float64. dy None:
    y alone."""
    from spatial_ops._shapes import check_reduction, normalize_reduce_axes

    x, kernel = np.asarray(x, np.float64), np.asarray(kernel, np.float64)
    bias = None if bias is None else np.asarray(bias, np.float64)
    axes = normalize_reduce_axes(reduce_axis, x.ndim)
    check_reduction(reduction)
    value, slope = _activation_and_slope(activation, x * kernel + (0.0 if bias is None else bias))
    count = math.prod(x.shape[axis] for axis in axes) if reduction == "mean" else 1
    y = value.sum(axis=axes) / count if axes else value
    if dy is None:
        return y
    dz = np.expand_dims(np.asarray(dy, np.float64), axes) / count * slope
    gradients = [dz * kernel, _sum_to(dz * x, kernel.shape)]
    if bias is not None:
        gradients.append(_sum_to(dz, bias.shape))
    return y, gradients
