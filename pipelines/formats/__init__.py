"""Other on-disk layouts: ``atd12k`` reads and writes the official ATD-12K layout (``atdkit import``/``export``,
and the test set ``atdkit bench`` scores)."""
