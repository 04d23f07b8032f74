"""Whether the op is being traced for XLA, which compiles it as a custom call
only where the library has the lowering (ops.runs_fused_in_xla).

tf.function(jit_compile=True) (and Keras' model.compile(jit_compile=True),
which uses it) enters an XLAControlFlowContext on the graph it traces into;
TensorFlow has no public API for asking, so the internal helper it uses
itself is wrapped here, in one place, behind a canary test
(tests/test_private_apis.py).
"""

from tensorflow.python.framework import ops as _tf_ops
from tensorflow.python.ops import control_flow_util as _control_flow_util


def in_xla_context():
    """True while tracing a function that XLA will compile."""
    return bool(_control_flow_util.GraphOrParentsInXlaContext(_tf_ops.get_default_graph()))
