"""``uf.linalg``: the Array API linear-algebra extension."""
from ._dispatch import FUNCS as _F

for _k, _v in _F.items():
    if _k.startswith("linalg."):
        globals()[_k[7:]] = _v
del _k, _v
