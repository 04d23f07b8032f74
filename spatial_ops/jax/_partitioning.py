"""How the custom calls split across devices (jax.experimental.custom_partitioning):
by the batch, the one axis whose shards need nothing from each other.
x, dy, y and dx keep the batch sharding they come with (data parallelism:
no all-gather of x); the weights and spatial axes are replicated; each
device's weight gradients are its batch shard's sums, added across the
devices that split the batch (one all-reduce of weight size)."""

import functools
import string

import jax
from jax.experimental.custom_partitioning import custom_partitioning
from jax.sharding import NamedSharding, PartitionSpec


def _batch_axes(sharding):
    """The mesh axes that shard axis 0 under this sharding: None, a name or names."""
    spec = getattr(sharding, "spec", None)
    return spec[0] if spec else None


def _batch_sharding(mesh, sharding):
    return NamedSharding(mesh, PartitionSpec(_batch_axes(sharding)))


def _replicated(mesh):
    return NamedSharding(mesh, PartitionSpec())


def _einsum_rule(operands, results, x_rank, reduced):
    """The Shardy rule for operands and results named by role: "x" (batch
    first, x's shape), "y" (x's without the reduced axes), "weight" (x's
    spatial shape) or "empty" (the [0] bias of a call without one). Factor b
    is the batch; the spatial factors (and the empty one) stay replicated."""
    spatial = list(string.ascii_lowercase[2 : 2 + x_rank - 1])
    kept = [f for i, f in enumerate(spatial, start=1) if i not in reduced]
    letters = {"x": ["b", *spatial], "y": ["b", *kept], "weight": spatial, "empty": ["z"]}
    side = lambda roles: ", ".join(" ".join(letters[role]) for role in roles)
    rule = f"{side(operands)} -> {side(results)}"
    # Shardy numbers factors by first appearance and wants them in that order.
    appearance = list(dict.fromkeys(rule.replace(",", " ").replace("->", " ").split()))
    return rule, tuple(f for f in appearance if f != "b")


def _reduced_axes(attrs):
    return tuple(range(attrs.reduce_begin, attrs.reduce_end)) if attrs.reduction != "none" else ()


@functools.lru_cache(maxsize=None)
def partitioned_forward(call, attrs, x_rank):
    """call(attrs, x, kernel, bias) -> y, split by the batch."""
    local = functools.partial(call, attrs)

    @custom_partitioning
    def forward(x, kernel, bias):
        return local(x, kernel, bias)

    def shardings(mesh, arg_shapes):
        batch = _batch_sharding(mesh, arg_shapes[0].sharding)
        return batch, (batch, _replicated(mesh), _replicated(mesh))

    def partition(mesh, arg_shapes, result_shape):
        result, args = shardings(mesh, arg_shapes)
        return mesh, local, result, args

    bias = "weight" if attrs.has_bias else "empty"
    rule, replicated = _einsum_rule(("x", "weight", bias), ("y",), x_rank, _reduced_axes(attrs))
    forward.def_partition(
        partition=partition,
        infer_sharding_from_operands=lambda mesh, args, result: shardings(mesh, args)[0],
        sharding_rule=rule,
        need_replication_factors=replicated,
    )
    return forward


@functools.lru_cache(maxsize=None)
def partitioned_backward(call, attrs, x_rank):
    """call(attrs, dy, x, kernel, bias) -> (dx, dkernel, dbias), split by the
    batch, the weight gradients summed over the devices that split it."""
    local = functools.partial(call, attrs)

    @custom_partitioning
    def backward(dy, x, kernel, bias):
        return local(dy, x, kernel, bias)

    def shardings(mesh, arg_shapes):
        batch = _batch_sharding(mesh, arg_shapes[1].sharding)
        replicated = _replicated(mesh)
        return (batch, replicated, replicated), (batch, batch, replicated, replicated)

    def partition(mesh, arg_shapes, result_shape):
        results, args = shardings(mesh, arg_shapes)
        axes = _batch_axes(args[1])

        def lower(dy, x, kernel, bias):
            dx, dkernel, dbias = local(dy, x, kernel, bias)
            if axes is None:
                return dx, dkernel, dbias
            return dx, jax.lax.psum(dkernel, axes), jax.lax.psum(dbias, axes)

        return mesh, lower, results, args

    bias = "weight" if attrs.has_bias else "empty"
    rule, replicated = _einsum_rule(("y", "x", "weight", bias), ("x", "weight", bias), x_rank, _reduced_axes(attrs))
    backward.def_partition(
        partition=partition,
        infer_sharding_from_operands=lambda mesh, args, result: shardings(mesh, args)[0],
        sharding_rule=rule,
        need_replication_factors=replicated,
    )
    return backward
