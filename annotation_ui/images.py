"""Triplet images at display size: decoded once, kept in memory, prepared ahead of need.

Frames are stored at source resolution (often 1080p PNG, ~40 ms each to decode); the app
shows them at :data:`DISPLAY_WIDTH`. Each triplet's three JPEGs and its animated WebP loop
(frame 1, 2, 3, repeated) are made once per app process, kept in a bounded LRU cache
shared by all sessions, and :func:`prefetch` prepares the next triplets on a background
thread while the annotator looks at the current one.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from atdkit.images import encode, read_rgb, resize

DISPLAY_WIDTH = 640
LOOP_FRAME_MS = 350
JPEG_QUALITY = 88  # on screen at display size
_DECODERS = ThreadPoolExecutor(3, thread_name_prefix="decode-frames")  # OpenCV decodes without holding the GIL


@dataclass(frozen=True)
class DisplayTriplet:
    frames: tuple[bytes, bytes, bytes]  # JPEG, DISPLAY_WIDTH wide
    loop: bytes  # animated WebP: frame1, frame2, frame3
    size: tuple[int, int]  # (width, height) of the display images
    source_size: tuple[int, int]  # (width, height) of the stored frames


def render(folder: Path, width: int = DISPLAY_WIDTH) -> DisplayTriplet:
    """The display images of the triplet stored in ``folder`` (frame1.png, frame2.png, frame3.png)."""
    frames = list(_DECODERS.map(read_rgb, [folder / f"frame{n}.png" for n in (1, 2, 3)]))
    height, source_width = frames[1].shape[:2]
    size = (min(width, source_width), max(1, round(height * min(width, source_width) / source_width)))
    small = [resize(f, size) for f in frames]
    jpegs = tuple(encode(f, ".jpg", JPEG_QUALITY) for f in small)
    pictures = [Image.fromarray(f) for f in small]
    loop = io.BytesIO()
    pictures[0].save(
        loop, "WEBP", save_all=True, append_images=pictures[1:], duration=LOOP_FRAME_MS, loop=0, quality=85, method=0
    )
    return DisplayTriplet(jpegs, loop.getvalue(), size, (source_width, height))


class DisplayCache:
    """LRU cache of :class:`DisplayTriplet` by folder, safe to share between sessions (threads)."""

    def __init__(self, capacity: int = 256, workers: int = 1):
        self.capacity = capacity
        self._items: OrderedDict[Path, Future] = OrderedDict()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="display-images")

    def _future(self, folder: Path, background: bool) -> Future:
        with self._lock:
            future = self._items.get(folder)
            if future is not None:
                self._items.move_to_end(folder)
                return future
            if background:
                future = self._pool.submit(render, folder)
            else:
                future = Future()
            self._items[folder] = future
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        if not background:
            try:
                future.set_result(render(folder))
            except Exception as error:  # handed to every waiter, then forgotten so a fixed file is read again
                future.set_exception(error)
        return future

    def get(self, folder: Path) -> DisplayTriplet:
        future = self._future(folder, background=False)
        try:
            return future.result()
        except Exception:
            with self._lock:
                if self._items.get(folder) is future:
                    del self._items[folder]
            raise

    def prefetch(self, folders: list[Path]) -> None:
        for folder in folders:
            self._future(folder, background=True)
