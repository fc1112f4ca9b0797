"""FrameRenderer measured on its output: PSNR at rest, FaceMesh re-detected on rendered crops."""

import numpy as np
import pytest

from talkcli.face import topology as topo
from talkcli.motion.generator import MotionBlock
from talkcli.render.frames import FrameRenderer
from talkcli.render.paste import PasteBack

ZERO_HEAD = np.zeros(5)


def _psnr(a, b, mask=None) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        d = d[mask]
    mse = float(np.mean(d**2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _box_mask(shape, pts, pad):
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + pad
    mask = np.zeros(shape[:2], dtype=bool)
    mask[max(0, y0) : y1, max(0, x0) : x1] = True
    return mask


def _face_width(lm) -> float:
    return float(np.linalg.norm(lm[454, :2] - lm[234, :2]))


def _opening(lm) -> float:
    """Inner-lip opening (landmarks 13-14) in face widths."""
    return float((lm[14, 1] - lm[13, 1]) / _face_width(lm))


def _eye_angle_deg(lm) -> float:
    a = lm[topo.EYE_A_UPPER + topo.EYE_A_LOWER, :2].mean(axis=0)
    b = lm[topo.EYE_B_UPPER + topo.EYE_B_LOWER, :2].mean(axis=0)
    return float(np.degrees(np.arctan2(b[1] - a[1], b[0] - a[0])))


@pytest.fixture(scope="module")
def redetect(landmarker):
    cache = {}

    def detect(frame):
        key = frame.tobytes()
        if key not in cache:
            faces = landmarker.faces(frame)
            assert len(faces) == 1
            cache[key] = faces[0].landmarks.astype(np.float64)
        return cache[key]

    return detect


def test_neutral_frame_reproduces_the_crop(renderer, hopper_crop):
    _, _, crop, lm = hopper_crop
    frame = renderer.render_crop(np.zeros(4), 0.0, ZERO_HEAD)
    assert frame.shape == crop.shape and frame.dtype == np.uint8
    # The absolute mouth model pulls the lips to their mid-line: leave the lips out.
    lips = lm[topo.LIPS_OUTER_UPPER + topo.LIPS_OUTER_LOWER, :2]
    outside = ~_box_mask(crop.shape, lips, pad=3)
    assert _psnr(frame, crop, outside) >= 35.0
    assert _psnr(frame, crop) >= 30.0


def test_jaw_opening_is_seen_by_facemesh(renderer, redetect):
    opening = {}
    for jaw in (0.0, 0.5, 1.0):
        frame = renderer.render_crop(np.array([jaw, 0.0, 0.0, 0.0]), 0.0, ZERO_HEAD)
        opening[jaw] = _opening(redetect(frame))
    assert abs(opening[0.0]) < 0.02
    assert opening[0.5] > opening[0.0] + 0.05
    assert opening[1.0] > opening[0.5] + 0.02
    assert opening[1.0] > 0.12


def test_press_keeps_the_mouth_shut_even_with_jaw_open(renderer, redetect):
    frame = renderer.render_crop(np.array([1.0, 0.0, 0.0, 1.0]), 0.0, ZERO_HEAD)
    assert abs(_opening(redetect(frame))) < 0.02


def test_open_mouth_shows_an_interior(renderer, hopper_crop):
    _, _, crop, _ = hopper_crop
    mouth = np.array([1.0, 0.0, 0.0, 0.0])
    frame = renderer.render_crop(mouth, 0.0, ZERO_HEAD)
    target = renderer.rig.target(mouth, 0.0, ZERO_HEAD)
    # The middle of the opening, between the inner lips, is the drawn interior, not skin.
    up, lo = target[13], target[14]
    centre = np.round((up + lo) / 2).astype(int)
    patch = frame[centre[1] - 1 : centre[1] + 2, centre[0] - 1 : centre[0] + 2].astype(np.float64)
    skin = crop[centre[1] - 1 : centre[1] + 2, centre[0] - 1 : centre[0] + 2].astype(np.float64)
    assert np.abs(patch.mean(axis=(0, 1)) - skin.mean(axis=(0, 1))).max() > 40


def test_parameters_act_locally(renderer, hopper_crop):
    # A blink changes the eyes and not the mouth; the jaw changes the mouth and not the eyes.
    _, _, crop, lm = hopper_crop
    rest = renderer.render_crop(np.zeros(4), 0.0, ZERO_HEAD).astype(np.int16)
    eyes = _box_mask(crop.shape, lm[topo.EYE_A_UPPER + topo.EYE_A_LOWER + topo.EYE_B_UPPER + topo.EYE_B_LOWER, :2], pad=2)
    mouth = _box_mask(crop.shape, lm[topo.LIPS_OUTER_UPPER + topo.LIPS_OUTER_LOWER, :2], pad=2)
    blink = np.abs(renderer.render_crop(np.zeros(4), 1.0, ZERO_HEAD) - rest).mean(axis=2)
    jaw = np.abs(renderer.render_crop(np.array([1.0, 0, 0, 0]), 0.0, ZERO_HEAD) - rest).mean(axis=2)
    assert blink[eyes].mean() > 8.0 and blink[mouth].max() <= 1.0
    assert jaw[mouth].mean() > 15.0 and jaw[eyes].max() <= 1.0


def test_head_roll_and_shift_are_seen_by_facemesh(renderer, redetect):
    rest = redetect(renderer.render_crop(np.zeros(4), 0.0, ZERO_HEAD))
    rolled = redetect(renderer.render_crop(np.zeros(4), 0.0, np.array([0, 0, 3.0, 0, 0])))
    assert _eye_angle_deg(rolled) - _eye_angle_deg(rest) == pytest.approx(3.0, abs=0.5)
    shifted = redetect(renderer.render_crop(np.zeros(4), 0.0, np.array([0, 0, 0, 0.02, 0.0])))
    dx = np.median(shifted[:468, 0] - rest[:468, 0])
    assert dx == pytest.approx(0.02 * renderer.rig.face_width, abs=0.6)


def test_crops_yield_each_frame_with_its_own_paste_data(renderer):
    n = 3
    block = MotionBlock(
        first_frame=8,
        mouth=np.array([[0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], np.float32),
        blink=np.array([0, 0.5, 1], np.float32),
        head=np.zeros((n, 5), np.float32),
    )
    frames = list(renderer.crops(block))
    assert len(frames) == n
    for j, frame in enumerate(frames):
        np.testing.assert_array_equal(frame.image, renderer.render_crop(block.mouth[j], float(block.blink[j]), block.head[j]))
    assert frames[0].paste.rest and not frames[1].paste.rest  # the rest frame is the photo; an open mouth is not
    assert renderer.crop_size == 256


def test_pasted_neutral_frame_reproduces_the_photo(hopper_crop):
    photo, geometry, crop, lm = hopper_crop
    paste = PasteBack(photo, geometry)
    r = FrameRenderer(crop, lm, detail=paste.detail)
    assert paste.shape == (600, 512)
    frame = paste.paste_frame(next(r.crops(MotionBlock(0, np.zeros((1, 4), np.float32), np.zeros(1, np.float32), np.zeros((1, 5), np.float32)))))
    assert frame.shape == (600, 512, 3)
    lips_photo = geometry.to_photo(lm[topo.LIPS_OUTER_UPPER + topo.LIPS_OUTER_LOWER, :2])[:, :2]
    outside = ~_box_mask(photo.shape, lips_photo, pad=3)
    assert _psnr(frame, photo, outside) >= 35.0
    # Far from the face the photo is untouched.
    np.testing.assert_array_equal(frame[:20], photo[:20])


def test_large_photo_keeps_its_sharpness_inside_the_paste(landmarker, hopper_crop):
    # A photo twice as sharp as the crop: the pasted face keeps the photo's fine detail (no soft
    # disc with a seam around it), and at rest the frame is the photo itself.
    import cv2

    photo0 = hopper_crop[0]
    big = cv2.resize(photo0, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(0)
    noise = cv2.resize(rng.normal(0, 10, (big.shape[0] // 2, big.shape[1] // 2)).astype(np.float32), big.shape[1::-1])
    big = np.clip(big + noise[..., None], 0, 255).astype(np.uint8)  # grain finer than the crop resolves
    from talkcli.face.crop import face_crop

    face = landmarker.faces(big)[0]
    geometry = face_crop(face.landmarks, big.shape, 256)
    assert geometry.scale < 0.5
    block = MotionBlock(0, np.array([[0, 0, 0, 0], [0.6, 0, 0, 0]], np.float32), np.zeros(2, np.float32),
                        np.array([[0, 0, 0, 0, 0], [1.5, 1, 0.5, 0.005, 0]], np.float32))
    grain = {}
    for detail in (False, True):
        paste = PasteBack(big, geometry)
        paste.detail = paste.detail and detail
        r = FrameRenderer(geometry.crop(big), geometry.to_crop(face.landmarks), detail=paste.detail, person_matte=False)
        rest, moving = (paste.paste_frame(f) for f in r.crops(block))
        np.testing.assert_array_equal(rest, paste.photo)
        x0, y0, x1, y1 = paste.box
        inside = np.zeros(paste.shape, bool)
        inside[y0:y1, x0:x1] = paste._alpha > 0.95
        lap = lambda im: float(np.std(cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)[inside]))  # noqa: E731
        grain[detail] = lap(moving) / lap(paste.photo)
    assert grain[False] < 0.6, grain
    assert grain[True] > 0.8, grain


def test_the_torch_resampling_path_gives_the_opencv_frames(hopper_crop):
    # The path a CUDA GPU takes (torch grid_sample for the warp, the matte warped on its own),
    # run here on torch's CPU backend: the same frames as OpenCV's, to rounding.
    from talkcli.face.mask import person_matte
    from talkcli.render.device import TorchRemap
    from talkcli.render.frames import FrameRenderer

    _, _, crop, lm = hopper_crop
    person = person_matte(crop)
    assert person is not None
    renderer = FrameRenderer(crop, lm, person_matte=person)
    torch_path = FrameRenderer(crop, lm, person_matte=person)
    torch_path._torch_remap = TorchRemap(torch_path.crop, "cpu")
    for mouth, blink, head in (([0.8, 0.2, 0.0, 0.0], 0.0, [2.0, -1.0, 1.0, 0.01, 0.0]),
                               ([0.0, 0.0, 0.0, 1.0], 1.0, [-2.0, 1.5, 0.0, 0.0, 0.01])):
        args = (np.asarray(mouth, float), blink, np.asarray(head, float))
        a = renderer.render_crop(*args).astype(np.int16)
        b = torch_path.render_crop(*args).astype(np.int16)
        diff = np.abs(a - b)
        # OpenCV's bilinear works in 1/32 pixel: a few levels on sharp edges (test_render_warp).
        assert np.mean(diff <= 1) >= 0.99 and np.mean(diff <= 2) >= 0.999 and diff.max() <= 8
