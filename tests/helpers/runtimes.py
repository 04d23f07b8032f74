"""Runs an exported model the way a deployment runtime does, in a process
that never imports spatial_ops: TensorFlow's SavedModel loader (as TF
Serving), the LiteRT interpreter with builtin kernels only (no Flex, no
custom ops: what a phone has) and ONNX Runtime.

Run as `python -c "from helpers.runtimes import main; main()" FORMAT MODEL X OUT`:
reads x from X (.npy), writes the model's output to OUT (.npy)."""

import sys

import numpy as np


def run_saved_model(path, x):
    import tensorflow as tf

    loaded = tf.saved_model.load(path)  # kept alive: its variables die with it
    return np.asarray(loaded.serve(x))


def run_litert(path, x):
    from ai_edge_litert import interpreter as litert

    interpreter = litert.Interpreter(
        model_path=path, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    (model_input,), (model_output,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(model_input["index"], x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(model_input["index"], x.astype(model_input["dtype"]))
    interpreter.invoke()
    return interpreter.get_tensor(model_output["index"])


def run_onnx(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    (model_input,) = session.get_inputs()
    return session.run(None, {model_input.name: x})[0]


RUNNERS = {"tf_saved_model": run_saved_model, "litert": run_litert, "onnx": run_onnx}


def main():
    export_format, model_path, x_path, out_path = sys.argv[1:]
    y = RUNNERS[export_format](model_path, np.load(x_path))
    loaded = sorted(name for name in sys.modules if name.split(".")[0] == "spatial_ops")
    assert not loaded, f"the runtime process imported {loaded}"
    np.save(out_path, y)
