"""The one seam for backend-specific pieces (TensorBoard logging, TensorFlow device queries),
so training code stays backend-neutral.

Writes per-epoch scalars with ``tensorboardX`` (pure Python, works under every Keras backend).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["epoch_logger"]


def epoch_logger(logdir: str | Path):
    """A Keras callback writing every numeric epoch log (loss, lr, ...) to ``logdir``, or None if
    ``tensorboardX`` is not installed."""
    try:
        from tensorboardX import SummaryWriter
    except ImportError:  # pragma: no cover - tensorboardX is a declared dependency
        return None
    import keras

    class _EpochScalars(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.writer = SummaryWriter(str(logdir))

        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                if isinstance(value, (int, float)):
                    self.writer.add_scalar(key, float(value), epoch + 1)
            self.writer.flush()

        def on_train_end(self, logs=None):
            self.writer.close()

    return _EpochScalars()


def tensorflow_has_gpu() -> bool:
    """Whether TensorFlow sees a GPU (only called when Keras runs on TensorFlow)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))
