"""What the ``against_*`` scripts share to run published code adapted while it runs."""

from __future__ import annotations

import sys
import types


def put_back(saved: dict[str, types.ModuleType | None]) -> None:
    """``sys.modules`` as it was for each name of ``saved`` ({name: module, or None where there was none})."""
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module
