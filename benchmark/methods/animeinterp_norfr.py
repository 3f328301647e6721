"""``animeinterp-norfr``: see :mod:`benchmark.methods.animeinterp.method`."""
from benchmark.methods.animeinterp.method import NO_RFR as METHOD

__all__ = ["METHOD"]
