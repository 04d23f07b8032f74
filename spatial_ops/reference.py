"""spatial_ops.reference.spatial_dense: the same math as the fused op written
as plain TensorFlow composites, the ground truth every fused result is tested
against (spatial_ops.tensorflow.reference). Importing it imports TensorFlow."""

from .tensorflow.reference import spatial_dense

__all__ = ["spatial_dense"]
