"""The photo's own mouth expression, measured in a normalised mouth frame.

The renderer drives the mouth toward absolute shapes; to do that it needs to
know what the photo's mouth already does: how much wider than a relaxed mouth
it is (a smile widens it), how far the corners are raised above the lip
centre, and how far the lips are parted.

The relaxed width is predicted from the distance between the pupils: on
neutral faces the mouth spans about 0.82 of it (measured on the closed-mouth
portraits this project renders), on broad smiles 1.0-1.1. Both scale alike
when the head is turned, so the ratio survives moderate yaw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from talkcli.face import topology as topo

NEUTRAL_WIDTH_PER_IPD = 0.82  # relaxed mouth width / inter-pupil distance
SMILE_WIDTH_RANGE = 0.25  # a full smile is this much wider than relaxed (share of the relaxed width)
SMILE_LIFT_RANGE = 0.15  # corner lift / mouth width of a full smile


@dataclass(frozen=True)
class MouthExpression:
    """The reference mouth, in pixels of the image its landmarks came from."""

    centre: np.ndarray  # (2,) midpoint of the mouth corners
    width: float  # corner-to-corner distance in the photo
    neutral_width: float  # predicted relaxed (not smiling) width, <= width
    lift: float  # lip centre below the corners' line, pixels (> 0: corners raised, a smile)
    gap: float  # inner-lip opening at the centre, pixels (>= 0)
    smile: float  # 0 neutral .. 1 broad smile

    @property
    def teeth_visible(self) -> bool:
        """True when the lips are parted enough that the photo shows the teeth."""
        return self.gap > 0.06 * self.width


def estimate_expression(landmarks: np.ndarray) -> MouthExpression:
    """Measure the mouth of ``(478, 2+)`` landmarks (FaceMesh order, iris included)."""
    p = np.asarray(landmarks, dtype=np.float64)[:, :2]
    a, b = p[topo.MOUTH_CORNERS[0]], p[topo.MOUTH_CORNERS[1]]
    centre = (a + b) / 2
    width = float(np.linalg.norm(b - a))
    if len(p) >= topo.N_LANDMARKS:
        ipd = float(np.linalg.norm(p[topo.IRIS_B[0]] - p[topo.IRIS_A[0]]))
    else:  # no iris points: outer eye corners are ~1.37 pupil distances apart
        ipd = float(np.linalg.norm(p[263] - p[33])) / 1.37
    inner_mid = (p[13] + p[14]) / 2
    lift = float(inner_mid[1] - centre[1])
    gap = max(0.0, float(p[14, 1] - p[13, 1]))
    relaxed = NEUTRAL_WIDTH_PER_IPD * ipd
    widen = np.clip((width / max(relaxed, 1e-6) - 1.0) / SMILE_WIDTH_RANGE, 0.0, 1.0)
    raise_ = np.clip(lift / max(width, 1e-6) / SMILE_LIFT_RANGE, 0.0, 1.0)
    smile = float(np.clip(0.5 * widen + 0.5 * raise_, 0.0, 1.0))
    neutral_width = float(min(width, max(relaxed, 0.8 * width)))
    return MouthExpression(centre=centre, width=width, neutral_width=neutral_width, lift=lift, gap=gap, smile=smile)
