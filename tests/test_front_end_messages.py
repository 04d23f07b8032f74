"""The argument checks' messages, written once in spatial_ops._shapes, are
the same through every front-end: TensorFlow, JAX and PyTorch each convert
their arrays and raise through it. (Not in the sanitizer job: its build has
the TensorFlow op library alone.)"""

import pytest
import tensorflow as tf

import spatial_ops


def test_every_front_end_refuses_bad_input_with_the_same_message():
    """The messages live in spatial_ops._shapes; each front-end converts its
    arrays and raises through it."""
    jax_ops = pytest.importorskip("spatial_ops.jax")
    torch = pytest.importorskip("torch")
    import jax.numpy as jnp

    import spatial_ops.torch as torch_ops

    cases = {
        "tensorflow": (
            lambda: tf.zeros((2, 3, 4), tf.float32),
            lambda: tf.zeros((3, 4), tf.float16),
            lambda: tf.zeros((5,), tf.float32),
        ),
        "jax": (
            lambda: jnp.zeros((2, 3, 4), jnp.float32),
            lambda: jnp.zeros((3, 4), jnp.float16),
            lambda: jnp.zeros((5,), jnp.float32),
        ),
        "torch": (
            lambda: torch.zeros(2, 3, 4, dtype=torch.float32),
            lambda: torch.zeros(3, 4, dtype=torch.float16),
            lambda: torch.zeros(5, dtype=torch.float32),
        ),
    }
    ops = {
        "tensorflow": spatial_ops.tensorflow.spatial_dense,
        "jax": jax_ops.spatial_dense,
        "torch": torch_ops.spatial_dense,
    }
    messages = {}
    for name, (x, kernel16, vector) in cases.items():
        found = []
        for call in (lambda: ops[name](x(), kernel16()), lambda: ops[name](vector(), vector())):
            with pytest.raises(ValueError) as raised:
                call()
            found.append(str(raised.value))
        messages[name] = found
    assert messages["tensorflow"] == messages["jax"] == messages["torch"], messages
