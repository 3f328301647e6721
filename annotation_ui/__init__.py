"""The annotation app: ``streamlit run annotation_ui -- --dataset DATASET_DIR`` (or ``atdkit annotate``).

Pages (``views/``): labelling (one triplet at a time, from a per-annotator queue),
adjudication (a reviewer settles disagreements) and a dashboard (progress, agreement).
Labels are stored as append-only Parquet parts by :mod:`atdkit.pipelines.labels.annotations`.
"""
