"""``unifw.nn``: modules, layers, initialisers and losses with PyTorch's API.

``from unifw import nn; import unifw.nn.functional as F``. Layers take
``dtype=`` (default ``uf.float32``) and ``device=``; parameter names, shapes
and default initialisation follow ``torch.nn``, so PyTorch ``state_dict``\\ s
load with ``load_state_dict``.
"""
from ..variable import Buffer, Parameter
from . import functional, init
from .activation import (ELU, GELU, Hardtanh, LeakyReLU, LogSoftmax, ReLU, ReLU6, Sigmoid, SiLU,
                         Softmax, Softplus, Tanh)
from .attention import MultiheadAttention
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d, ConvTranspose2d
from .dropout import Dropout
from .embedding import Embedding
from .linear import Flatten, Identity, Linear
from .losses import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
                     MSELoss, MultiMarginLoss, NLLLoss, SmoothL1Loss)
from .module import IncompatibleKeys, Module
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .recurrent import GRU, LSTM, RNN
from .transformer import TransformerEncoder, TransformerEncoderLayer
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = [
    "Module", "Parameter", "Buffer", "IncompatibleKeys", "Sequential", "ModuleList",
    "ModuleDict", "functional", "init",
    "Identity", "Linear", "Flatten", "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d",
    "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm",
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "Dropout",
    "Embedding", "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
    "RNN", "LSTM", "GRU",
    "ReLU", "LeakyReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax",
    "ELU", "Hardtanh", "ReLU6",
    "L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss", "BCELoss",
    "BCEWithLogitsLoss", "MultiMarginLoss", "KLDivLoss",
]
