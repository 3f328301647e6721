"""Image sizes as users type them: "WIDTHxHEIGHT"."""

from __future__ import annotations


def parse_size(text: str) -> tuple[int, int]:
    """ "960x540" -> (960, 540); ValueError with the reason otherwise."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"expected WIDTHxHEIGHT, e.g. 960x540, got {text!r}") from None
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be positive, got {text!r}")
    return width, height


def format_size(size: tuple[int, int] | None) -> str | None:
    return f"{size[0]}x{size[1]}" if size else None


def fit_into(width: int, height: int, box: tuple[int, int]) -> tuple[int, int]:
    """(width, height) fitted into ``box`` with the aspect kept, never upscaled."""
    scale = min(1.0, box[0] / width, box[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))
