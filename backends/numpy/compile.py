"""Static mode on NumPy: there is no compiler, so functions run eagerly."""


