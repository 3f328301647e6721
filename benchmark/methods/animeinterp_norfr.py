"""``animeinterp-norfr``: see :mod:`atdkit.benchmark.methods.animeinterp.method`."""

from atdkit.benchmark.methods.animeinterp.method import NO_RFR as METHOD

__all__ = ["METHOD"]
