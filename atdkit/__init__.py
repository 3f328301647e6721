"""atdkit: build, label and benchmark animation frame-interpolation datasets (ATD-12K style).

Installed, ``atdkit.pipelines``, ``atdkit.benchmark`` and ``atdkit.annotation_ui`` live inside this
package. In a clone they are the folders beside it (``pipelines/``, ``benchmark/``, ``annotation_ui/``):
the clone's root is added to this package's search path so that code run from there (``python -m
atdkit``, the tests) imports them under the same names.
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

_clone = _Path(__file__).resolve().parent.parent
if (_clone / "pyproject.toml").is_file() and (_clone / "pipelines" / "__init__.py").is_file():
    __path__.append(str(_clone))
