"""Labels (``atdkit annotate``, ``atdkit consolidate``): ``annotations`` stores every submitted label as an
append-only Parquet part; ``consolidate`` merges them into ``labels.parquet`` and measures agreement."""
