"""neuroplast: spiking neural networks trained with ScSr-SNN + BIP and with supervised STDP.

Layout convention, fixed for the whole package: sequences are time-major ``(T, B, features...)``;
time-to-first-spike tensors carry no time axis, ``(B, features...)``, holding integer-valued spike
times where ``t_max`` means "no spike".
"""

from neuroplast.errors import NeuroplastError

__version__ = "0.1.0"
__all__ = ["NeuroplastError", "__version__"]
