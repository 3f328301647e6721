"""atdkit: build, label and benchmark animation frame-interpolation datasets (ATD-12K style)."""

__version__ = "0.1.0"
