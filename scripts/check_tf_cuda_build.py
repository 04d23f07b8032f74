"""What scripts/tf_cuda_build.sh checks in the spatial_ops it installed
against the CUDA TensorFlow, on a machine with or without a GPU: the op
library loads, says (its stamp) that it has GPU kernels and the XLA GPU
lowering, TensorFlow lists CPU and GPU kernels and XLA CPU and GPU JIT
lowerings for both ops, and the library carries the CUDA FFI handlers that
lowering calls. Exits non-zero, naming what is missing, otherwise."""

import subprocess
import sys

import tensorflow as tf
from tensorflow.python.framework import kernels

import spatial_ops
from spatial_ops.tensorflow import _loader
from spatial_ops.tensorflow.ops import LIBRARY

OPS = ("SpatialOps>SpatialDense", "SpatialOps>SpatialDenseGrad")
DEVICES = {"CPU", "GPU", "XLA_CPU_JIT", "XLA_GPU_JIT"}
HANDLERS = ("SpatialOpsSpatialDenseCuda", "SpatialOpsSpatialDenseGradCuda")


def main():
    problems = []
    LIBRARY.load()
    library = _loader._LIBRARY
    _, features = _loader._read_stamp(library)
    print(f"TensorFlow {tf.__version__}, build {dict(tf.sysconfig.get_build_info())}")
    print(f"{library.name}: features {sorted(features)}")
    problems += [
        f"the stamp lacks {name}" for name in ("gpu_kernels", "xla_gpu", "xla_lowering") if name not in features
    ]

    # XLA turns its op registrations into JIT kernels at the first compilation.
    tf.function(lambda v: v + 1, jit_compile=True)(tf.constant(1.0))
    for op in OPS:
        registered = {kernel.device_type for kernel in kernels.get_registered_kernels_for_op(op).kernel}
        print(f"{op}: kernels for {sorted(registered)}")
        problems += [f"{op} has no {device} kernel" for device in sorted(DEVICES - registered)]

    symbols = subprocess.run(["nm", str(library)], capture_output=True, text=True, check=True).stdout
    for handler in HANDLERS:
        present = any(line.split()[-1] == handler for line in symbols.splitlines() if line.strip())
        print(f"{handler}: {'present' if present else 'MISSING'}")
        problems += [] if present else [f"the library lacks the FFI handler {handler}"]

    if tf.config.list_physical_devices("GPU"):
        x = tf.random.normal((4, 6, 5))
        kernel, bias = tf.random.normal((6, 5)), tf.random.normal((6, 5))
        with tf.device("/GPU:0"):
            on_gpu = spatial_ops.spatial_dense(x, kernel, bias, activation="gelu")
        expected = spatial_ops.reference.spatial_dense(x, kernel, bias, activation="gelu")
        error = float(tf.reduce_max(tf.abs(on_gpu - expected)))
        print(f"on the GPU: largest difference from the reference {error:.2e}")
        problems += [] if error < 1e-5 else [f"the GPU result is {error} off the reference"]
    else:
        print("no GPU here: the kernels were not run")

    for problem in problems:
        print(f"FAILED: {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
