"""A triplet on screen: the three frames side by side, the animated loop, and where it comes from."""

from __future__ import annotations

import base64

import streamlit as st

from atdkit.annotation_ui.images import DisplayTriplet


def describe(row: dict) -> str:
    """Source, frame indices and SSIMs, for the small print."""
    frames = ", ".join(str(f) for f in row["frames"]) if row.get("frames") else "unknown"
    ssims = " / ".join("n/a" if row.get(k) is None else f"{row[k]:.3f}" for k in ("ssim_12", "ssim_23", "ssim_13"))
    return (
        f"source `{row.get('source_id') or 'unknown'}` · frames {frames} · interval {row.get('interval')} · "
        f"SSIM 1-2 / 2-3 / 1-3: {ssims} · {row.get('width')}x{row.get('height')}"
    )


def show_frames(images: DisplayTriplet) -> None:
    for column, number, jpeg in zip(st.columns(3), (1, 2, 3), images.frames):
        column.image(jpeg, caption=f"frame {number}", width="stretch")


def show_loop(images: DisplayTriplet) -> None:
    """The animated loop frame1 -> frame2 -> frame3 (an animated WebP, inline: st.image would re-encode it)."""
    data = base64.b64encode(images.loop).decode("ascii")
    st.html(
        f'<img src="data:image/webp;base64,{data}" alt="animated loop of frames 1, 2, 3" '
        f'style="width:100%;height:auto;border-radius:4px" class="triplet-loop">'
    )
    st.caption("loop: frame 1 → 2 → 3")
