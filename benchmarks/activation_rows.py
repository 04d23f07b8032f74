"""One activation per row of the kernels' activation table, as a user passes
it: what the benchmarks that cover every fused activation run."""

from spatial_ops import FUSED_ACTIVATION_NAMES, Activation
from spatial_ops.activations import resolve

# Rows that Keras' defaults do not reach: parameterised forms.
PARAMETERISED = [Activation("relu", negative_slope=0.1), Activation("relu", max_value=6.0, threshold=0.5),
                 Activation("gelu", approximate=True), Activation("threshold", threshold=0.0, default_value=0.0)]


def every_activation():
    """(kernel row name, identifier), one for every row of the activation table."""
    rows = {}
    for identifier in list(FUSED_ACTIVATION_NAMES) + PARAMETERISED:
        try:
            resolved = resolve(identifier)
        except ValueError:  # a Keras activation with required arguments: in PARAMETERISED
            continue
        rows.setdefault(resolved.fused_name, identifier)
    return list(rows.items())
