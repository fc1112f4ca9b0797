"""Background change and face PSNR on frames with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from talkcli.eval.fidelity import (
    BackgroundChange,
    FacePsnr,
    face_outside_mouth_mask,
    head_neck_mask,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def still(talking_frames, talking_analysis):
    """One rendered frame and its landmarks."""
    return talking_frames[0].copy(), talking_analysis.track.landmarks[0].astype(np.float64)


def test_masks_cover_the_face_and_leave_the_corners(still):
    frame, lm = still
    head = head_neck_mask(lm, frame.shape)
    face = face_outside_mouth_mask(lm, frame.shape)
    x, y = np.round(lm[1]).astype(int)  # nose tip
    assert head[y, x] and face[y, x]
    mx, my = np.round(lm[13]).astype(int)  # upper inner lip: the mouth is left out of the face PSNR
    assert head[my, mx] and not face[my, mx]
    assert not head[0, 0] and not head[0, -1]
    assert (face & ~head).sum() == 0


def test_background_change_counts_exactly_the_pixels_that_changed(still):
    frame, lm = still
    background = ~head_neck_mask(lm, frame.shape)
    ys, xs = np.nonzero(background)
    patch = (ys < 12) & (xs < 12)  # a corner block of the background
    bg = BackgroundChange()
    for i in range(6):
        f = frame.copy()
        if i % 2:
            f[ys[patch], xs[patch]] = np.clip(f[ys[patch], xs[patch]].astype(int) + 40, 0, 255)
        f[ys[~patch][:5], xs[~patch][:5]] ^= 1  # one grey level: below the threshold, not a change
        bg.update(i, f, lm)
    assert bg.fraction == pytest.approx(patch.sum() / background.sum())
    assert len(bg.pair_fractions) == 5
    assert bg.change_count.max() == 5


def test_face_psnr_of_the_reference_itself_and_with_known_noise(still):
    frame, lm = still
    same = FacePsnr(frame, lm)
    same.update(0, frame, lm)
    assert same.psnr_db > 45
    rng = np.random.default_rng(0)
    noisy = np.clip(frame.astype(float) + rng.normal(0, 8, frame.shape), 0, 255).astype(np.uint8)
    measured = FacePsnr(frame, lm)
    measured.update(0, noisy, lm)
    assert measured.psnr_db == pytest.approx(20 * np.log10(255 / 8), abs=0.7)


def test_face_psnr_survives_a_moved_and_scaled_face(still):
    """The reference is aligned to the frame: a shifted, enlarged copy still reads high PSNR."""
    import cv2

    frame, lm = still
    m = np.array([[1.1, 0, -10], [0, 1.1, 6]])
    moved = cv2.warpAffine(frame, m, frame.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    lm_moved = lm @ m[:, :2].T + m[:, 2]
    psnr = FacePsnr(frame, lm + np.random.default_rng(1).normal(0, 0.7, lm.shape))  # landmark jitter
    psnr.update(0, moved, lm_moved)
    assert psnr.psnr_db > 33
