"""Films → triplets (``atdkit extract``): ``films`` finds and names them, ``scan`` decodes one and
measures its pair SSIMs, ``selection`` holds the keep-or-reject rules, ``units`` cuts the work into
units for an executor and ``run`` drives a whole run; ``synth`` renders cartoon clips with a known truth."""
