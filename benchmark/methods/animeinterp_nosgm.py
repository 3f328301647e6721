"""``animeinterp-nosgm``: see :mod:`atdkit.benchmark.methods.animeinterp.method`."""

from atdkit.benchmark.methods.animeinterp.method import NO_SGM as METHOD

__all__ = ["METHOD"]
