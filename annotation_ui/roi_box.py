"""The motion RoI: one box on frame2, drawn with the mouse or typed, kept in frame2's pixels.

Drawing uses streamlit-drawable-canvas (rectangle mode) over frame2; the last rectangle
drawn is the box, converted to frame2's pixels and clamped to the image. The four number
fields show the same box and can be typed into instead.

The fields and the canvas get new widget keys whenever the box is reset (another triplet,
or "Clear box"): a browser still holding the old widgets' values, or a late canvas event,
then cannot put a previous box back.
"""

from __future__ import annotations

import math

import streamlit as st
from streamlit_drawable_canvas import st_canvas

Box = tuple[float, float, float, float]  # x, y, width, height
FIELDS = ("x", "y", "width", "height")
STROKE, FILL = "#ff2b2b", "rgba(255, 43, 43, 0.12)"


def clamp_box(box: Box | None, width: int, height: int) -> Box | None:
    """``box`` cut to the image (0..width, 0..height); None when less than a pixel of it is left."""
    if box is None or not all(v is not None and math.isfinite(v) for v in box):
        return None
    x, y, w, h = box
    left, top = max(0.0, min(x, x + w)), max(0.0, min(y, y + h))
    right, bottom = min(float(width), max(x, x + w)), min(float(height), max(y, y + h))
    if right - left < 1 or bottom - top < 1:
        return None
    return (round(left, 2), round(top, 2), round(right - left, 2), round(bottom - top, 2))


def last_rectangle(drawing: dict | None, scale: float) -> Box | None:
    """The last rectangle of a canvas drawing (canvas pixels), in image pixels (``scale`` = image / canvas)."""
    rects = [o for o in (drawing or {}).get("objects", []) if str(o.get("type", "")).lower() == "rect"]
    if not rects:
        return None
    o = rects[-1]
    width, height = o.get("width", 0) * o.get("scaleX", 1), o.get("height", 0) * o.get("scaleY", 1)
    left = o.get("left", 0) - (width / 2 if o.get("originX") == "center" else 0)
    top = o.get("top", 0) - (height / 2 if o.get("originY") == "center" else 0)
    return (left * scale, top * scale, width * scale, height * scale)


def drawing_of(box: Box | None, scale: float) -> dict:
    """The canvas drawing that shows ``box`` (image pixels) on a canvas ``1 / scale`` the size."""
    if box is None:
        return {"objects": []}
    x, y, w, h = (v / scale for v in box)
    return {
        "objects": [
            {
                "type": "rect",
                "left": x,
                "top": y,
                "width": w,
                "height": h,
                "originX": "left",
                "originY": "top",
                "scaleX": 1,
                "scaleY": 1,
                "angle": 0,
                "stroke": STROKE,
                "strokeWidth": 2,
                "strokeUniform": True,
                "fill": FILL,
                "lockRotation": True,
            }
        ]
    }


class RoiEditor:
    """The box of one page (``prefix``), its canvas and its four fields."""

    def __init__(self, prefix: str, image_size: tuple[int, int]):
        self.prefix, self.image_size = prefix, image_size
        self.box_key = f"{prefix}roi"
        self.version_key = f"{prefix}roi_version"

    @property
    def version(self) -> int:
        return st.session_state.get(self.version_key, 0)

    def field_key(self, name: str, version: int | None = None) -> str:
        return f"{self.prefix}roi_{name}_{self.version if version is None else version}"

    @property
    def box(self) -> Box | None:
        return st.session_state.get(self.box_key)

    def set(self, box: Box | None) -> None:
        """Make ``box`` (clamped) the current box, shown in the fields. Call before the widgets or in a callback."""
        box = clamp_box(box, *self.image_size)
        st.session_state[self.box_key] = box
        for name, value in zip(FIELDS, box or (None,) * 4):
            st.session_state[self.field_key(name)] = value

    def reset(self, box: Box | None) -> None:
        """Start over with ``box``: new fields and a new canvas."""
        st.session_state[self.version_key] = self.version + 1
        self.set(box)

    def _typed(self, version: int) -> None:
        if version != self.version:
            return  # a field of a box that was reset since
        values = [st.session_state.get(self.field_key(name)) for name in FIELDS]
        if all(v is not None for v in values):
            self.set(tuple(float(v) for v in values))
        else:
            st.session_state[self.box_key] = None

    def _drawn(self, canvas_key: str, version: int, scale: float) -> None:
        if version != self.version:
            return  # a late event of a canvas that was replaced since
        state = st.session_state.get(canvas_key) or {}
        box = last_rectangle((state.get("drawing") or {}).get("raw"), scale)
        if box is not None:
            self.set(box)

    def render(self, background_jpeg: bytes, canvas_width: int, disabled: bool = False) -> Box | None:
        """The canvas (``canvas_width`` wide) over ``background_jpeg`` (frame2), then the typed fields."""
        version, (width, height) = self.version, self.image_size
        scale = width / canvas_width
        canvas_key = f"{self.prefix}canvas_{version}"
        st_canvas(
            background_image=background_jpeg,
            drawing_mode="rect",
            width=canvas_width,
            height=round(height / scale),
            stroke_width=2,
            stroke_color=STROKE,
            fill_color=FILL,
            initial_drawing=drawing_of(self.box, scale),
            key=canvas_key,
            disabled=disabled,
            on_change=lambda: self._drawn(canvas_key, version, scale),
        )
        columns = st.columns(5, vertical_alignment="bottom")
        for column, name, limit in zip(columns, FIELDS, (width, height, width, height)):
            column.number_input(
                f"RoI {name}",
                min_value=0.0,
                max_value=float(limit),
                step=1.0,
                format="%.0f",
                key=self.field_key(name),
                on_change=self._typed,
                args=(version,),
                disabled=disabled,
            )
        columns[4].button(
            "Clear box", key=f"{self.prefix}roi_clear", on_click=self.reset, args=(None,), disabled=disabled
        )
        st.caption(f"Draw the box on frame 2 with the mouse, or type it in frame 2's pixels ({width}x{height}).")
        return self.box
