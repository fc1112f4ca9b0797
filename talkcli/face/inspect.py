"""What talk sees in a reference photo: faces, the crop, landmarks, mesh, and warnings, as a picture."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from talkcli.face import topology as topo
from talkcli.face.crop import CropGeometry
from talkcli.face.detect import Face

SMALL_FACE_PX = 100  # below this the animated face is mostly upscaled blur


@dataclass
class PhotoReport:
    """Measurements of the chosen face and the warnings they raise."""

    face_px: float
    roll_deg: float
    yaw: float  # -1 (turned fully left) .. 1 (right); |yaw| > 0.3 is a strong turn
    eye_openness: float  # lid gap / eye width, both eyes averaged; < 0.12 reads as closed
    mouth_openness: float  # inner-lip gap / mouth width; > 0.08 reads as open
    warnings: list[str] = field(default_factory=list)


def assess(face: Face, n_faces: int, index: int) -> PhotoReport:
    lm = face.landmarks[:, :2].astype(np.float64)
    x0, y0, x1, y1 = face.box
    size = min(x1 - x0, y1 - y0)
    eye_a = lm[topo.EYE_A_UPPER + topo.EYE_A_LOWER].mean(axis=0)
    eye_b = lm[topo.EYE_B_UPPER + topo.EYE_B_LOWER].mean(axis=0)
    roll = float(np.degrees(np.arctan2(eye_b[1] - eye_a[1], eye_b[0] - eye_a[0])))
    oval = lm[topo.FACE_OVAL]
    centre_x = (oval[:, 0].min() + oval[:, 0].max()) / 2
    half_width = max(1e-6, (oval[:, 0].max() - oval[:, 0].min()) / 2)
    yaw = float((lm[topo.NOSE_TIP, 0] - centre_x) / half_width)

    def openness(upper, lower):
        gap = np.linalg.norm(lm[upper[1:-1]] - lm[lower[1:-1]], axis=1).max()
        return gap / max(1e-6, np.linalg.norm(lm[upper[0]] - lm[upper[-1]]))

    eyes = float((openness(topo.EYE_A_UPPER, topo.EYE_A_LOWER) + openness(topo.EYE_B_UPPER, topo.EYE_B_LOWER)) / 2)
    mouth = float(openness(topo.LIPS_INNER_UPPER, topo.LIPS_INNER_LOWER))
    report = PhotoReport(face_px=float(size), roll_deg=roll, yaw=yaw, eye_openness=eyes, mouth_openness=mouth)
    if n_faces > 1:
        report.warnings.append(f"{n_faces} faces: animating face {index} (0 = largest; --face-index)")
    if size < SMALL_FACE_PX:
        report.warnings.append(f"face too small ({size:.0f} px across): expect a soft, upscaled result")
    if abs(yaw) > 0.3 or abs(roll) > 25:
        report.warnings.append(f"extreme pose (turn {yaw:+.2f}, tilt {roll:+.0f} deg): the far side of the face may smear")
    if eyes < 0.12:
        report.warnings.append("eyes closed in the photo: blinks will not read")
    if mouth > 0.08:
        report.warnings.append("mouth open in the photo: closures stretch the lips over the gap")
    return report


def overlay(photo: np.ndarray, faces: list[Face], index: int, geometry: CropGeometry, report: PhotoReport) -> np.ndarray:
    """A ``(H, W, 3) uint8`` RGB picture: the photo with faces and crop outline, the crop with mesh, the warnings."""
    import cv2

    view = photo.copy()
    scale = max(1.0, max(photo.shape[:2]) / 800.0)
    thick = max(1, int(round(2 * scale)))
    for i, f in enumerate(faces):
        x0, y0, x1, y1 = (int(round(v)) for v in f.box)
        cv2.rectangle(view, (x0, y0), (x1, y1), (0, 255, 0) if i == index else (255, 160, 0), thick)
        cv2.putText(view, str(i), (x0, max(12, y0 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (255, 255, 0), thick)
    s = geometry.size
    corners = geometry.to_photo(np.array([[0, 0], [s, 0], [s, s], [0, s]], dtype=np.float64))
    cv2.polylines(view, [np.round(corners).astype(np.int32)], True, (255, 0, 255), thick)

    crop = geometry.crop(photo)
    pts = geometry.to_crop(faces[index].landmarks)[:, :2]
    mesh = crop.copy()
    for a, b, c in topo.tessellation_triangles():
        cv2.polylines(mesh, [np.round(pts[[a, b, c]] * 16).astype(np.int32)], True, (80, 220, 255), 1, cv2.LINE_AA, 4)
    crop = cv2.addWeighted(crop, 0.45, mesh, 0.55, 0)
    for p in pts:
        cv2.circle(crop, (int(round(p[0])), int(round(p[1]))), 1, (255, 60, 60), -1)

    height = max(view.shape[0], s)
    panel_w = 420
    canvas = np.full((height, view.shape[1] + s + panel_w, 3), 24, np.uint8)
    canvas[: view.shape[0], : view.shape[1]] = view
    canvas[:s, view.shape[1] : view.shape[1] + s] = crop
    lines = [
        f"faces: {len(faces)}, animating {index}",
        f"face: {report.face_px:.0f} px across",
        f"tilt {report.roll_deg:+.1f} deg, turn {report.yaw:+.2f}",
        f"eyes open {report.eye_openness:.2f}, mouth open {report.mouth_openness:.2f}",
        "",
        "warnings:" if report.warnings else "no warnings",
    ] + [f"- {w}" for w in report.warnings]
    x = view.shape[1] + s + 12
    y = 28
    for line in lines:
        for chunk in _wrap(line, 44):
            colour = (255, 200, 80) if line.startswith("-") else (230, 230, 230)
            cv2.putText(canvas, chunk, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
            y += 22
    return canvas


def _wrap(text: str, width: int) -> list[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if len(cur) + len(w) + 1 > width and cur:
            lines.append(cur)
            cur = "  " + w
        else:
            cur = f"{cur} {w}".strip() if not cur.startswith("  ") else f"{cur} {w}"
    lines.append(cur)
    return lines
