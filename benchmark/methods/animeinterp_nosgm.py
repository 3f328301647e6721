"""``animeinterp-nosgm``: see :mod:`benchmark.methods.animeinterp.method`."""
from benchmark.methods.animeinterp.method import NO_SGM as METHOD

__all__ = ["METHOD"]
