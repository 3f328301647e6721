"""Sharing a dataset without its frames: ``atdkit manifest`` writes what may be shared, ``atdkit rebuild``
makes the dataset again from the recipient's own copies of the films and proves every frame."""
