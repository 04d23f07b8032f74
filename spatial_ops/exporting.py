"""Exports for runtimes that do not have spatial_ops: TF Serving or
tf.saved_model.load without it, LiteRT (TFLite), ONNX Runtime, OpenVINO.

Those runtimes cannot run the fused op. Inside portable(), every spatial_ops
layer and spatial_ops.spatial_dense trace as the same math in plain
keras.ops (spatial_ops.composite), which every converter knows; export()
runs Keras' model.export there and checks that no fused op is left. An
ordinary model.export keeps the fused op, for serving where spatial_ops is
installed.
"""

import contextlib
import os
import threading

# How many portable() contexts are open, process-wide: a plain global, which
# torch.compile can read (it cannot trace a ContextVar). A trace on another
# thread meanwhile gets the composite too: the same math, never wrong.
_portable_depth = 0
_depth_lock = threading.Lock()

# The op names the op library registers (csrc/tf/ops.cc).
FUSED_OP_NAMES = ("SpatialOps>SpatialDense", "SpatialOps>SpatialDenseGrad")

# Keras export formats whose runtimes never have spatial_ops.
_CONVERTED_FORMATS = ("litert", "onnx", "openvino")


def tracing_portable():
    """True inside portable(): layers and ops run as their keras.ops composite."""
    return _portable_depth > 0


@contextlib.contextmanager
def portable():
    """A context in which every spatial_ops layer, and spatial_ops.spatial_dense,
    runs and traces as plain keras.ops, so that what is exported or converted
    inside it runs without spatial_ops:

        with spatial_ops.portable():
            tflite_model = tf.lite.TFLiteConverter.from_keras_model(model).convert()

    Functions are affected when they are traced inside the context: a
    tf.function traced before it keeps the fused op. model.export and
    spatial_ops.export trace afresh."""
    global _portable_depth
    with _depth_lock:
        _portable_depth += 1
    try:
        yield
    finally:
        with _depth_lock:
            _portable_depth -= 1


def export(model, filepath, format="tf_saved_model", *, portable=True, **kwargs):
    """model.export(filepath, format=format, **kwargs) for runtimes without
    spatial_ops (portable=True, the default): its spatial_ops layers are
    exported as plain ops, and a SavedModel is checked to hold no fused op.
    portable=False keeps the fused kernels in a SavedModel, which then needs
    `import spatial_ops` wherever it is loaded."""
    if not portable:
        if format in _CONVERTED_FORMATS:
            raise ValueError(
                f"format={format!r} is for runtimes that cannot run spatial_ops' fused op: "
                f"export it with spatial_ops.export(model, {str(filepath)!r}, format={format!r}) "
                "(portable=True, the default), which writes the layers as plain ops."
            )
        model.export(filepath, format=format, **kwargs)
        return
    with _portable_scope():
        model.export(filepath, format=format, **kwargs)
    if format == "tf_saved_model":
        found = fused_ops_in_saved_model(filepath)
        if found:
            raise RuntimeError(
                f"the portable SavedModel at {str(filepath)!r} still holds spatial_ops' fused op "
                f"({', '.join(found)}): part of the model called the op library directly, not "
                "through spatial_ops.spatial_dense or a spatial_ops layer."
            )


_portable_scope = portable  # export's argument named portable hides the function


def fused_ops_in_saved_model(path):
    """The names of spatial_ops' fused ops that the SavedModel at path calls,
    in its graphs and its function library (empty: it runs without spatial_ops)."""
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as file:
        saved_model.ParseFromString(file.read())
    found = set()
    for meta_graph in saved_model.meta_graphs:
        graph = meta_graph.graph_def
        nodes = [*graph.node, *(node for function in graph.library.function for node in function.node_def)]
        found.update(node.op for node in nodes if node.op in FUSED_OP_NAMES)
    return sorted(found)
