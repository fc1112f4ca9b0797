"""Motion blocks -> video frames: mesh warp of the reference crop, mouth interior, paste-back."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from talkcli.motion.generator import MotionBlock
from talkcli.render.mouth import MouthColours, draw_mouth_interior
from talkcli.render.paste import PasteBack
from talkcli.render.rig import FaceRig
from talkcli.render.warp import MeshWarper, remap


class FrameRenderer:
    """Renders crop frames for motion blocks; optionally pastes them into the full photo."""

    def __init__(self, crop: np.ndarray, crop_landmarks: np.ndarray, *, map_scale: float = 0.5,
                 paste: PasteBack | None = None, device: str = "cpu") -> None:
        self.crop = np.ascontiguousarray(crop)
        size = crop.shape[0]
        self.rig = FaceRig.build(crop_landmarks, size)
        self.warper = MeshWarper(size, self.rig.triangles, map_scale=map_scale)
        self.colours = MouthColours.from_reference(crop, crop_landmarks)
        self.paste = paste
        self.device = device
        self._torch_remap = None
        if device != "cpu":
            from talkcli.render.device import TorchRemap

            self._torch_remap = TorchRemap(self.crop, device)

    @property
    def output_shape(self) -> tuple[int, int]:
        """(height, width) of the frames this renderer produces."""
        return self.paste.shape if self.paste is not None else self.crop.shape[:2]

    def render_crop(self, mouth: np.ndarray, blink: float, head: np.ndarray) -> np.ndarray:
        """One ``(S, S, 3) uint8`` crop frame for one frame's parameters."""
        target = self.rig.target(mouth, blink, head)
        map_x, map_y = self.warper.backward_map(target, self.rig.source)
        frame = self._torch_remap(map_x, map_y) if self._torch_remap is not None else remap(self.crop, map_x, map_y)
        draw_mouth_interior(frame, target, float(mouth[0]), self.colours, self.rig.mouth_width)
        return frame

    def render_block(self, block: MotionBlock) -> Iterator[np.ndarray]:
        """The frames of one motion block, in order, each ``(H, W, 3) uint8`` RGB."""
        for j in range(block.n):
            crop = self.render_crop(block.mouth[j], float(block.blink[j]), block.head[j])
            yield self.paste.paste(crop) if self.paste is not None else crop
