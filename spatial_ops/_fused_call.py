"""How one call of spatial_dense splits between the kernels and the
front-end, written once for every front-end: the kernels apply a fusable
activation and reduce one contiguous run of axes; the front-end applies an
unfusable activation afterwards and reduces any other axes (a mean of
equal-sized means is the mean). Framework-free."""

from typing import Callable, NamedTuple, Optional, Tuple

from . import _shapes


class FusedCall(NamedTuple):
    activation: str  # the kernels' table row ("linear" under an unfused callable)
    params: Tuple[float, ...]
    reduction: str  # the kernels' reduction: "none", "sum" or "mean"
    reduce_begin: int  # the run of x's axes the kernels reduce (ignored for "none")
    reduce_end: int
    activation_after: Optional[Callable]  # an unfused callable, applied to the kernels' output
    axes_after: Tuple[int, ...]  # then reduced by the front-end, in that output's axes

    def finish(self, y, reduce, reduction):
        """The front-end's part on the kernels' output y: the unfused
        activation, then reduce(y, axes, reduction), the framework's sum or
        mean over axes, where axes are left."""
        if self.activation_after is not None:
            y = self.activation_after(y)
        return reduce(y, self.axes_after, reduction) if self.axes_after else y


def plan(resolved, axes, reduction, static_dims):
    """resolved: activations.resolve's result; axes: normalized reduced axes;
    static_dims: x's dims (None where unknown), which pick the kernels' run."""
    if resolved.table_row is None:
        return FusedCall("linear", (), "none", 2, 3, resolved.fn, axes)
    if not axes:
        return FusedCall(resolved.table_row, resolved.params, "none", 2, 3, None, ())
    begin, end = run = _shapes.fused_reduce_run(axes, static_dims)
    return FusedCall(
        resolved.table_row, resolved.params, reduction, begin, end, None, _shapes.axes_left_after(axes, run)
    )
