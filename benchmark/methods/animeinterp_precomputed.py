"""``animeinterp-precomputed``: see :mod:`benchmark.methods.animeinterp.method`."""
from benchmark.methods.animeinterp.method import PRECOMPUTED as METHOD

__all__ = ["METHOD"]
