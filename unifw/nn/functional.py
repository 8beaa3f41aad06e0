"""``unifw.nn.functional`` (import as ``F``): PyTorch's functional API, on every backend.

Names and arguments follow ``torch.nn.functional``; layouts are channels-first
(NCHW). Tensors are immutable, so ``batch_norm(..., training=True)`` returns the
normalised output and does not update ``running_mean``/``running_var`` in place
(the ``nn.BatchNorm`` modules update their buffers).
"""
from unifw._dispatch import FUNCS as _F

for _k, _v in _F.items():
    if _k.startswith("nn."):
        globals()[_k[3:]] = _v
del _k, _v
