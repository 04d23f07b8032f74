"""A canary for each private framework API the package relies on, named for
it: when a release moves or changes one, its test fails here rather than a
feature quietly degrading. (Public but experimental APIs are exercised by
the front-ends' own tests.)"""

import pytest


def test_tensorflow_control_flow_util_graph_or_parents_in_xla_context():
    """spatial_ops.tensorflow._xla.in_xla_context: True while a function XLA
    will compile is traced, False in a plain graph and eagerly."""
    tf = pytest.importorskip("tensorflow")
    from spatial_ops.tensorflow._xla import in_xla_context

    seen = {}

    def probe(name):
        def function(x):
            seen[name] = in_xla_context()
            return x

        return function

    tf.function(probe("xla"), jit_compile=True)(tf.ones(1))
    tf.function(probe("graph"))(tf.ones(1))
    assert seen == {"xla": True, "graph": False} and not in_xla_context()


def test_tensorflow_core_protobuf_saved_model_pb2(tmp_path):
    """spatial_ops.exporting.fused_ops_in_saved_model parses saved_model.pb
    with TensorFlow's generated protobuf module."""
    tf = pytest.importorskip("tensorflow")
    import spatial_ops
    from spatial_ops.exporting import fused_ops_in_saved_model

    module = tf.Module()
    module.f = tf.function(
        lambda x: spatial_ops.tensorflow.spatial_dense(x, tf.ones(3), activation="gelu"),
        input_signature=[tf.TensorSpec((None, 3))],
    )
    tf.saved_model.save(module, str(tmp_path))
    assert fused_ops_in_saved_model(str(tmp_path)) == ["SpatialOps>SpatialDense"]
