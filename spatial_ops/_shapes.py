"""The shape and argument checks every front-end and the layer share, and
their messages, on plain tuples, ints and dtype names (no framework), so that
each front-end raises the same ValueError, naming the shapes, for the same
bad input. A front-end tests what it can test fastest on its own arrays and
raises through refuse_* here."""

import math

REDUCTIONS = ("sum", "mean")
DTYPE_NAMES = ("float16", "bfloat16", "float32", "float64")


def _text(shape):
    return "<unknown>" if shape is None else str(tuple(shape))


def refuse_dtype(dtype_name, x_shape):
    raise ValueError(
        f"x has dtype {dtype_name} (shape {_text(x_shape)}); supported dtypes are {', '.join(DTYPE_NAMES[:-1])} "
        f"and {DTYPE_NAMES[-1]}"
    )


def refuse_rank(x_shape):
    """x_shape None: the rank is unknown."""
    raise ValueError(f"x must have a known rank >= 2, (batch, d1, ..., dk), got shape {_text(x_shape)}")


def refuse_mixed_dtypes(x_dtype_name, x_shape, name, dtype_name, shape):
    raise ValueError(
        f"mixed dtypes: x is {x_dtype_name} {_text(x_shape)} but {name} is {dtype_name} {_text(shape)}; "
        "cast them to one dtype"
    )


def check_broadcastable(weight_shape, spatial_shape, name="kernel", x_shape=None):
    """Raises ValueError unless weight_shape broadcasts to spatial_shape.
    Shapes are sequences of ints, None where unknown; x_shape (default:
    spatial_shape after an unknown batch) is named in the message."""
    weight_shape, spatial_shape = tuple(weight_shape), tuple(spatial_shape)
    x_shape = (None, *spatial_shape) if x_shape is None else tuple(x_shape)
    if len(weight_shape) > len(spatial_shape):
        raise ValueError(
            f"{name} shape {_text(weight_shape)} has more dimensions than x's spatial shape "
            f"{_text(spatial_shape)} (x is {_text(x_shape)}); it must broadcast to the spatial shape"
        )
    for w_dim, s_dim in zip(reversed(weight_shape), reversed(spatial_shape)):
        if w_dim is not None and s_dim is not None and w_dim not in (1, s_dim):
            raise ValueError(
                f"{name} shape {_text(weight_shape)} does not broadcast to x's spatial shape "
                f"{_text(spatial_shape)} (x is {_text(x_shape)})"
            )


def normalize_reduce_axes(reduce_axis, rank):
    """reduce_axis (None, int or ints; negative counts from the end) as a sorted
    tuple of positive axes of an input of this rank; the batch axis 0 is refused."""
    if reduce_axis is None:
        return ()
    axes = (reduce_axis,) if isinstance(reduce_axis, int) else tuple(reduce_axis)
    normalized = []
    for axis in axes:
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"reduce_axis must be ints, got {reduce_axis!r}")
        if not -rank <= axis < rank:
            raise ValueError(
                f"reduce_axis {axis} is out of range for an input of rank {rank} "
                f"(valid: {-rank + 1}..{rank - 1}, batch axis 0 excluded)"
            )
        axis %= rank
        if axis == 0:
            raise ValueError(
                f"reduce_axis {reduce_axis!r} includes axis 0, the batch axis, which is never "
                "reduced; reduce spatial axes 1..rank-1 (or negative axes) only"
            )
        if _holds(normalized, axis):
            raise ValueError(f"reduce_axis {reduce_axis!r} names axis {axis} twice")
        normalized.append(axis)
    # In order by a walk over the axes rather than sorted(): tracers that
    # hold an axis as a symbol (torch.compile with dynamic=True) cannot sort.
    return tuple(axis for axis in range(1, rank) if _holds(normalized, axis))


def _holds(axes, axis):
    """axis in axes, by ==: Dynamo's `in` misses a symbolic int equal to a constant."""
    return any(axis == other for other in axes)


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def fused_reduce_run(axes, static_dims):
    """The contiguous run of reduced axes (normalized, non-empty) the kernels
    reduce: the largest (by static size; None is unknown, the largest), the
    last on ties. Returned as (start, stop) in x's axes; the front-end reduces
    any other axes itself (a mean of equal-sized means is the mean)."""
    runs, start = [], axes[0]
    for previous, axis in zip(axes, axes[1:] + (None,)):
        if axis != previous + 1:
            runs.append((start, previous + 1))
            start = axis

    # A plain loop over ints, not max(key=...): tracers (torch.compile's
    # Dynamo) follow it whatever the sizes are.
    best, best_size = None, -1
    for run in runs:
        sizes = static_dims[run[0] : run[1]]
        size = math.inf if None in sizes else math.prod(sizes)
        if size >= best_size:
            best, best_size = run, size
    return best


def axes_left_after(axes, run):
    """The reduced axes outside run, renumbered for an array without run's axes."""
    start, stop = run
    return tuple(a if a < start else a - (stop - start) for a in axes if not start <= a < stop)
