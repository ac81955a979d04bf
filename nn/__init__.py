"""nn: small neural networks from scratch, a readable NumPy reference and a fast compiled core."""
from .autograd import Value
from .backends.threads import get_num_threads, set_num_threads
from . import schedules
from .callbacks import CSVLogger, EarlyStopping, ModelCheckpoint, TensorBoard, WeightTrace
from .functions import ACTIVATIONS, LOSSES
from .gradcheck import gradcheck
from .network import Dense, Network, Neuron
from .optimizers import SGD, Adam, Momentum, RMSprop
from .history import History
from .trainer import Trainer, TrainingDiverged

__version__ = "0.1.0"


def __getattr__(name):
    """nn.Classifier and nn.Regressor come from nn.estimators, imported on first use: it needs
    scikit-learn, which ``import nn`` does not (so they are not in __all__: ``from nn import *`` works
    without it)."""
    if name in ("Classifier", "Regressor"):
        from . import estimators

        return getattr(estimators, name)
    raise AttributeError(f"module 'nn' has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS", "CSVLogger", "LOSSES", "Adam", "Dense", "EarlyStopping", "History", "ModelCheckpoint", "Momentum",
    "Network", "TensorBoard", "schedules",
    "Neuron", "RMSprop", "SGD", "Trainer", "TrainingDiverged", "Value", "WeightTrace", "get_num_threads", "gradcheck",
    "set_num_threads",
]
