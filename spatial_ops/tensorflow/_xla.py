"""Whether the op is being traced for XLA, which cannot compile custom ops.

tf.function(jit_compile=True) (and Keras' model.compile(jit_compile=True),
which uses it) enters an XLAControlFlowContext on the graph it traces into;
TensorFlow has no public API for asking, so the internal helper it uses
itself is wrapped here, in one place.
"""

import sys

from tensorflow.python.framework import ops as _tf_ops
from tensorflow.python.ops import control_flow_util as _control_flow_util


def in_xla_context():
    """True while tracing a function that XLA will compile."""
    return bool(_control_flow_util.GraphOrParentsInXlaContext(_tf_ops.get_default_graph()))


def keras_is_resolving_auto_jit():
    """True while Keras resolves model.compile(jit_compile="auto"), which
    asks every layer's supports_jit, as an explicit jit_compile=True does
    too; this call stack is the only thing that tells the two apart."""
    frame = sys._getframe(1)
    while frame is not None:
        # Trainer._resolve_auto_jit_compile (Keras >= 3.4), resolve_auto_jit_compile before.
        if frame.f_code.co_name.endswith("resolve_auto_jit_compile"):
            return True
        frame = frame.f_back
    return False
