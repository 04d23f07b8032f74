"""Trains a small SpatialDense model with model.fit on fixed data and
initial weights, alone or under a tf.distribute strategy, and saves the
final weights and the loss of each epoch:

    python examples/distributed_training.py single|mirrored|multi_worker DATA.npz OUT.npz

DATA.npz holds the inputs x (batch, d1, d2), the targets y (batch, 1) and the
model's initial weights w0, w1, ... in model.get_weights() order;
tests/test_distribute.py writes one and checks that every mode ends where a
single process ends.

mirrored splits the CPU into two logical devices. multi_worker is one of
several processes that read their place in the cluster from TF_CONFIG, and
trains with a custom loop: Keras 3's model.fit does not support
MultiWorkerMirroredStrategy (keras-team/keras#20585). The global batch is
the same in every mode, so each run takes the same optimizer steps.
"""

import sys

import tensorflow as tf

mode, data_path, out_path = sys.argv[1:]
if mode == "mirrored":
    # Two logical CPU devices: must be set before TensorFlow starts its runtime.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import spatial_ops  # noqa: E402

GLOBAL_BATCH = 32
EPOCHS = 3


def fit_with_a_custom_loop(model, dataset, strategy):
    """model.fit's SGD steps on the mean squared error, written out with
    strategy.run; returns the mean loss of each epoch."""
    optimizer = model.optimizer

    @tf.function
    def train_step(x, y):
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                per_example = tf.reduce_mean(tf.square(model(x, training=True) - y), axis=-1)
                loss = tf.nn.compute_average_loss(per_example, global_batch_size=GLOBAL_BATCH)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))  # all-reduced sum
            return loss

        return strategy.reduce("SUM", strategy.run(replica_step, args=(x, y)), axis=None)

    distributed = strategy.experimental_distribute_dataset(dataset)
    return [float(np.mean([train_step(x, y) for x, y in distributed])) for _ in range(EPOCHS)]


if mode == "single":
    strategy = tf.distribute.get_strategy()
elif mode == "mirrored":
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
else:
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING
        )
    )

data = np.load(data_path)
with strategy.scope():
    model = keras.Sequential(
        [
            keras.Input(data["x"].shape[1:]),
            spatial_ops.SpatialDense(activation="gelu"),
            spatial_ops.SpatialDense(activation="tanh", reduce_axis=-1, reduction="mean"),
            keras.layers.Dense(1),
        ]
    )
    model.set_weights([data[f"w{i}"] for i in range(len(model.weights))])
    model.compile(keras.optimizers.SGD(0.1), "mse")

dataset = tf.data.Dataset.from_tensor_slices((data["x"], data["y"])).batch(GLOBAL_BATCH)
options = tf.data.Options()
# Every worker reads the same data and keeps its share of each global batch.
options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
dataset = dataset.with_options(options)
if mode == "multi_worker":
    losses = fit_with_a_custom_loop(model, dataset, strategy)
else:
    losses = model.fit(dataset, epochs=EPOCHS, shuffle=False, verbose=0).history["loss"]
np.savez(out_path, *model.get_weights(), loss=np.array(losses))
print(f"{mode}: replicas {strategy.num_replicas_in_sync}, losses {losses}")
