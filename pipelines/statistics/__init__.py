"""What a dataset holds (``atdkit stats``, ``split``, ``report``): optical-flow motion statistics and a
difficulty suggestion (``flow``, ``motion``, ``difficulty``), the source-exclusive split (``split``), the
HTML report (``report``) and its figures (``plots``)."""
