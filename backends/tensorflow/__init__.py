"""TensorFlow backend plugin. Importing this package does not import tensorflow."""
from unifw import BackendPlugin

plugin = BackendPlugin(name="tensorflow", load="unifw_backends.tensorflow.backend:backend",
                       requires=("tensorflow",), pip_extra="unifw[tensorflow]",
                       description="TensorFlow backend")
