"""The dataset pipeline, one subpackage per step of the data flow (installed as ``atdkit.pipelines``).

    films ──extraction──▶ triplets ──labels──▶ labels.parquet ──statistics──▶ motion, splits, report
                                     formats: the official ATD-12K layout, read and written

- ``extraction``: films → triplets (finding films, the per-film scan, the selection rules, synthetic clips);
- ``labels``: annotators' parts → ``labels.parquet`` with agreement;
- ``statistics``: motion and difficulty, the source-exclusive split, the dataset report;
- ``formats``: other on-disk layouts (ATD-12K);
- ``executors``: where units of work run (a local process pool or a Ray cluster).
"""
