"""Frame sources: motion -> face crops, the second half of the engine seam.

A ``FrameSource`` renders the square crop frames of one motion block, each
with the ``PasteData`` that paste-back needs for exactly that frame. Today's
source is the photo warp (``talkcli.render.frames.FrameRenderer``); a video
source or a neural decoder implements the same protocol, and
``talkcli.engines`` is the one place that chooses one from the settings.
"""

from __future__ import annotations

from typing import Iterator, Protocol

from talkcli.motion.generator import MotionBlock
from talkcli.render.paste import CropFrame


class FrameSource(Protocol):
    """Crop frames for motion blocks."""

    @property
    def crop_size(self) -> int:
        """Side of the square crop frames, pixels."""

    def crops(self, block: MotionBlock) -> Iterator[CropFrame]:
        """The block's crop frames in order, ``(S, S, 3) uint8`` each, with their paste data."""
