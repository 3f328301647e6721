"""The dataset's tables: one Arrow schema per table, the only place their columns are defined.

Dataset tables (``DATASET_DIR/*.parquet``):
- ``TRIPLETS``: one row per kept triplet, its images in ``frames/<triplet_id>/``.
- ``SOURCES``: one row per film, with how it was decoded and analysed and what was rejected.

Per-film scan cache (``DATASET_DIR/cache/<source_id>/``), so thresholds can be re-tuned
without decoding again:
- ``CANDIDATES``: every sampled triplet with its pair SSIMs and its verdict (kept or why not).
- ``FRAME_INDEX``: every decoded frame's time and a tiny luma thumbnail (redundancy checks).
"""
from __future__ import annotations

import pyarrow as pa

VERDICTS = ("kept", "too_similar", "too_different", "redundant")
REJECTION_REASONS = VERDICTS[1:]
SOURCE_STATUSES = ("ok", "partial", "failed")

TRIPLETS = pa.schema(
    [
        ("triplet_id", pa.string()),
        ("source_id", pa.string()),
        ("series", pa.string()),
        ("frames", pa.list_(pa.int64(), 3)),  # 0-based decoded frame indices
        ("interval", pa.int8()),  # frames skipped between neighbours: 0, 1 or 2
        ("timestamps", pa.list_(pa.float64(), 3)),  # seconds
        ("ssim_12", pa.float64()),
        ("ssim_23", pa.float64()),
        ("ssim_13", pa.float64()),
        ("width", pa.int32()),  # of the saved images
        ("height", pa.int32()),
    ]
)

SOURCES = pa.schema(
    [
        ("source_id", pa.string()),
        ("series", pa.string()),
        ("path", pa.string()),
        ("content_hash", pa.string()),  # blake2b-128 of the file's bytes
        ("fps", pa.float64()),
        ("frame_count", pa.int64()),  # frames actually decoded
        ("expected_frames", pa.int64()),  # frames the header promised
        ("duration", pa.float64()),  # seconds, decoded part
        ("codec", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("backend", pa.string()),
        ("analysis_box", pa.string()),  # "WxH" the luma is fitted into (the setting)
        ("analysis_width", pa.int32()),  # the size that gave (the result)
        ("analysis_height", pa.int32()),
        ("intervals", pa.list_(pa.int8())),
        ("ssim_low", pa.float64()),
        ("ssim_high", pa.float64()),
        ("scan_ssim_low", pa.float64()),  # band the cached SSIMs were computed for
        ("scan_ssim_high", pa.float64()),
        ("min_gap", pa.int32()),
        ("min_change", pa.float64()),
        ("resize", pa.string()),  # "WxH" or null
        ("status", pa.string()),  # one of SOURCE_STATUSES
        ("error", pa.string()),  # why failed, or the damage of a partial film
        ("candidates", pa.int64()),
        ("kept", pa.int64()),
        ("rejected_too_similar", pa.int64()),
        ("rejected_too_different", pa.int64()),
        ("rejected_redundant", pa.int64()),
        ("scan_seconds", pa.float64()),
    ]
)

CANDIDATES = pa.schema(
    [
        ("start", pa.int64()),
        ("interval", pa.int8()),
        ("ssim_12", pa.float64()),
        ("ssim_23", pa.float64()),  # null when ssim_12 already failed the band
        ("ssim_13", pa.float64()),  # null when an adjacent pair already failed the band
        ("verdict", pa.string()),  # one of VERDICTS
    ]
)

FRAME_INDEX = pa.schema(
    [
        ("index", pa.int64()),
        ("time", pa.float64()),
        ("thumbnail", pa.binary()),  # uint8 luma thumbnail, row-major (pipelines.selection.THUMBNAIL_SIZE)
    ]
)
