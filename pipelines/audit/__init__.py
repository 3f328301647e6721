"""Near-duplicate triplets and the leakage they cause across a train/test split: ``atdkit audit``.

:mod:`.signature` (a perceptual hash per frame, cached per triplet), :mod:`.index` (every pair within a
distance by multi-index hashing, no all-pairs comparison), :mod:`.groups` (union-find: groups of
triplets, content groups of films), :mod:`.dedup` (one triplet kept per group), :mod:`.run` (the command).
"""
