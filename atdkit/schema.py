"""The dataset's tables: one Arrow schema per table, the only place their columns are defined.

Dataset tables (``DATASET_DIR/*.parquet``):
- ``TRIPLETS``: one row per kept triplet, its images in ``frames/<triplet_id>/``.
- ``SOURCES``: one row per film, with how it was decoded and analysed and what was rejected.

Annotation parts (``DATASET_DIR/annotations/<annotator>/*.parquet``, ``DATASET_DIR/reviews/<reviewer>/*.parquet``):
- ``ANNOTATIONS``: one row per submitted label, append-only; an annotator's latest row for a triplet wins.

Label and statistics tables (``DATASET_DIR/*.parquet``), written by later steps:
- ``LABELS``: one row per labelled triplet, the annotators' labels consolidated.
- ``MOTION``: per-triplet optical-flow statistics and a suggested difficulty.
- ``SPLITS``: which side of a source-exclusive train/test split each triplet is on.

Audit tables (``DATASET_DIR/*.parquet``, written by ``atdkit audit``):
- ``SIGNATURES``: each triplet's perceptual signature, cached with what its frames were when hashed.
- ``DUPLICATES``: each triplet that has a near-duplicate, with its group of near-duplicates.
- ``SOURCE_GROUPS``: each film's content group: films sharing near-duplicate triplets share a group.

Benchmark results (``RESULTS_DIR/per_triplet.parquet``, written by ``atdkit bench``):
- ``BENCH_RESULTS``: one row per (method, triplet, profile): scores, the RoI scored, what the breakdowns
  group by, status.

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
DUPLICATE_VERDICT = "duplicate"  # a kept candidate that atdkit audit --dedup set aside (CANDIDATES.verdict)

# The paper's label vocabulary (sections 3.1 and 3.2). ATD-12K's JSON stores difficulty as
# ``level`` = the index in DIFFICULTIES.
DIFFICULTIES = ("easy", "medium", "hard")
GENERAL_MOTIONS = ("translation", "rotation", "scaling", "deformation")
BEHAVIORS = ("speaking", "walking", "eating", "sporting", "fetching", "others")
INELIGIBLE_REASONS = (
    "inconsistent captions",
    "simple or similar scene",
    "untypical movement",
    "scene transition",
    "other",
)
SPLIT_SIDES = ("train", "test")

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
        ("flags", pa.list_(pa.string())),  # pre-screening hints (pipelines.extraction.flags.FLAGS); null: not screened
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
        ("shots", pa.int32()),  # the film's timing (pipelines.extraction.timing); null without interval 0
        ("drawings", pa.int64()),
        ("on_ones", pa.float64()),  # share of drawings held for 1 frame
        ("on_twos", pa.float64()),  # 2 frames
        ("on_threes", pa.float64()),  # 3 frames
        ("on_longer", pa.float64()),  # 4 or more
    ]
)

SHOTS = pa.schema(  # one row per shot of each film (atdkit extract): how its drawings are timed
    [
        ("source_id", pa.string()),
        ("shot", pa.int32()),  # 0-based, in film order
        ("start", pa.int64()),  # first frame
        ("stop", pa.int64()),  # one past the last frame
        ("drawings", pa.int32()),
        ("on_ones", pa.float64()),
        ("on_twos", pa.float64()),
        ("on_threes", pa.float64()),
        ("on_longer", pa.float64()),
        ("pattern", pa.string()),  # "ones", "twos", "threes", "longer", or "mixed" when none holds half the drawings
    ]
)

ANNOTATIONS = pa.schema(
    [
        ("triplet_id", pa.string()),
        ("annotator", pa.string()),  # who labelled (or, under reviews/, who adjudicated)
        ("eligible", pa.bool_()),
        ("reason", pa.string()),  # one of INELIGIBLE_REASONS; null when eligible
        ("difficulty", pa.string()),  # one of DIFFICULTIES, or null
        ("roi_x", pa.float64()),  # motion RoI on frame2, in frame2's pixels; null when none
        ("roi_y", pa.float64()),
        ("roi_w", pa.float64()),
        ("roi_h", pa.float64()),
        ("general_motion", pa.list_(pa.string())),  # subset of GENERAL_MOTIONS
        ("behavior", pa.list_(pa.string())),  # subset of BEHAVIORS
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]
)

LABELS = pa.schema(
    [
        ("triplet_id", pa.string()),
        ("n_labels", pa.int32()),  # annotators who labelled it
        ("n_eligible", pa.int32()),  # of them, how many called it eligible
        ("kept", pa.bool_()),  # eligible by at least two annotators (the paper's rule)
        ("difficulty", pa.string()),  # one of DIFFICULTIES (majority), or null
        ("roi_x", pa.float64()),  # motion RoI on frame2, in frame2's pixels; null when none
        ("roi_y", pa.float64()),
        ("roi_w", pa.float64()),
        ("roi_h", pa.float64()),
        ("general_motion", pa.list_(pa.string())),  # GENERAL_MOTIONS chosen by a majority
        ("behavior", pa.list_(pa.string())),  # BEHAVIORS chosen by a majority
        ("needs_review", pa.bool_()),  # a tie or disagreement a reviewer should settle
    ]
)

MOTION = pa.schema(
    [
        ("triplet_id", pa.string()),
        ("flow_mean", pa.float64()),  # mean displacement magnitude frame1 <-> frame3, pixels at source resolution
        ("flow_std", pa.float64()),
        ("occlusion_ratio", pa.float64()),  # share of pixels failing forward-backward consistency
        ("suggested_difficulty", pa.string()),  # one of DIFFICULTIES
    ]
)

SPLITS = pa.schema(
    [
        ("triplet_id", pa.string()),
        ("split", pa.string()),  # one of SPLIT_SIDES
    ]
)

SIGNATURES = pa.schema(
    [
        ("triplet_id", pa.string()),
        ("frames", pa.string()),  # the three frame files' sizes and modification times when hashed
        ("signature", pa.list_(pa.uint64(), 3)),  # 64-bit perceptual hash of frame1, frame2, frame3
    ]
)

DUPLICATES = pa.schema(
    [
        ("triplet_id", pa.string()),
        ("group", pa.int64()),  # near-duplicate group, numbered from 0 in order of its first triplet id
        ("distance", pa.int32()),  # signature bits differing from its closest group member (0-192)
    ]
)

SOURCE_GROUPS = pa.schema(
    [
        ("source_id", pa.string()),
        ("content_group", pa.int64()),  # numbered from 0 in order of its first source id
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
        ("flags", pa.list_(pa.string())),  # pre-screening hints of an in-band candidate; null out of band
    ]
)

FRAME_INDEX = pa.schema(
    [
        ("index", pa.int64()),
        ("time", pa.float64()),
        ("thumbnail", pa.binary()),  # uint8 luma thumbnail, row-major (pipelines.selection.THUMBNAIL_SIZE)
    ]
)

BENCH_MOTION = pa.schema(  # atdkit bench's cache of motion measured for the official layout, one file per data folder
    [
        ("triplet_id", pa.string()),
        ("frames", pa.string()),  # frame1's and frame3's sizes and modification times: what was measured
        ("motion", pa.float64()),  # flow mean, % of the frame diagonal (atdkit stats' DIS statistics)
        ("occlusion", pa.float64()),  # share of occluded pixels (0-1)
    ]
)

BENCH_RESULTS = pa.schema(
    [
        ("method", pa.string()),
        ("triplet_id", pa.string()),
        ("level", pa.int8()),  # index in DIFFICULTIES; null when unlabelled
        ("general_motion", pa.list_(pa.string())),
        ("behavior", pa.list_(pa.string())),
        ("psnr", pa.float64()),  # dB; inf for an exact prediction; null when the triplet failed
        ("ssim", pa.float64()),
        ("roi_psnr", pa.float64()),  # null without an RoI or when it is empty after clipping
        ("roi_ssim", pa.float64()),  # null also when the RoI is smaller than the SSIM window
        ("ie", pa.float64()),  # interpolation error: mean RGB Euclidean distance, 0-255 scale
        ("lpips", pa.float64()),  # LPIPS with AlexNet, whole frame; null when not asked (--metrics)
        ("lpips_vgg", pa.float64()),  # LPIPS with VGG-16
        ("cd", pa.float64()),  # EISAI's chamfer distance between the line drawings
        ("motion", pa.float64()),  # the triplet's flow mean, % of the frame diagonal
        ("occlusion", pa.float64()),  # the triplet's share of occluded pixels (0-1)
        ("region", pa.string()),  # "west" (Disney's series, as EISAI splits ATD-12K) or "east"
        ("roi_x", pa.int32()),  # the RoI scored, in pixels of the scored frames (after scaling and clipping)
        ("roi_y", pa.int32()),
        ("roi_w", pa.int32()),
        ("roi_h", pa.int32()),
        ("seconds", pa.float64()),  # the method's time for this triplet (its batch's time / batch size)
        ("status", pa.string()),  # "ok" or why the triplet failed
        ("note", pa.string()),  # what was scored differently than asked (RoI clipped or too small, ...)
        ("profile", pa.string()),  # scoring protocol, a key of atdkit.benchmark.scoring.profiles.PROFILES
    ]
)

RELEASE_FRAMES = pa.schema(  # atdkit manifest: what each saved PNG must be, so that a rebuild can prove it
    [
        ("triplet_id", pa.string()),
        ("png_sha256", pa.list_(pa.string(), 3)),  # of frame1.png, frame2.png, frame3.png
    ]
)

RELEASE_PROBES = pa.schema(  # atdkit manifest: per film, one frame's thumbnail, to recognise another encode of it
    [
        ("source_id", pa.string()),
        ("frame", pa.int64()),  # decoded frame index (its film's first saved frame)
        ("thumbnail", pa.binary()),  # uint8 luma thumbnail of the saved frame, row-major (selection.THUMBNAIL_SIZE)
    ]
)

REBUILD_STATUSES = ("verified", "missing film", "different encode", "film too short", "differs")

REBUILT = pa.schema(  # atdkit rebuild: every triplet of the release and whether it could be rebuilt and verified
    [
        ("triplet_id", pa.string()),
        ("source_id", pa.string()),
        ("status", pa.string()),  # one of REBUILD_STATUSES
        ("detail", pa.string()),  # which file and what differs; null when verified
    ]
)

ROLES = ("annotator", "reviewer")  # reviewers also adjudicate

ACCESS_TOKENS = pa.schema(  # atdkit annotate --issue-token: who may open the app served to a team
    [
        ("name", pa.string()),  # the person, as their labels are filed
        ("role", pa.string()),  # one of ROLES
        ("token_sha256", pa.string()),  # the token itself is shown once and never stored
        ("issued_at", pa.timestamp("us", tz="UTC")),
    ]
)
