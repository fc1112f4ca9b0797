"""Motion, block by block: phones -> per-frame mouth, blink and head parameters.

The generator is causal in blocks: each block of frames is computed from the
phones known so far (phones arrive chunk by chunk) and from the state carried
over from the previous block. The state is an explicit object, so streamed
generation equals one-shot generation (a test checks it) and a later job can
resume from a saved state.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import numpy as np

from talkcli.audio.phonemes import Phone, PhoneBatch
from talkcli.audio.plan import BlockPlan
from talkcli.config.settings import MotionSettings
from talkcli.motion.visemes import normalise_phone, phone_target



@dataclass(frozen=True)
class MotionConfig(MotionSettings):
    """The user's motion settings (``MotionSettings``: seed, head motion, blink interval) plus
    the generator's own tuning. Amplitudes in degrees (head) or 0..1 (mouth)."""

    blink_duration_s: float = 0.22
    anticipation_s: float = 0.0  # seconds the mouth leads the sound; talk eval measured +40 ms of A/V offset at 0.04, -0.6 ms at 0
    attack: float = 0.65  # per-frame approach to a more open target (at 25 fps)
    release: float = 0.8  # per-frame approach to a closure

    @classmethod
    def from_settings(cls, settings: MotionSettings) -> "MotionConfig":
        return cls(**dataclasses.asdict(settings))


@dataclass
class MotionBlock:
    """Parameters of ``n`` consecutive frames starting at ``first_frame``.

    ``mouth`` is ``(n, 4) float32`` (jaw, round, stretch, press in 0..1),
    ``blink`` ``(n,) float32`` (0 open .. 1 closed), ``head`` ``(n, 5) float32``
    (yaw, pitch, roll in degrees; tx, ty in face widths), ``gaze`` ``(n, 2) float32``
    (iris offset in eye widths, x right, y down).
    """

    first_frame: int
    mouth: np.ndarray
    blink: np.ndarray
    head: np.ndarray
    gaze: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.mouth)


@dataclass
class MotionState:
    """Everything carried from one block to the next; plain data, copyable and serialisable."""

    frame: int = 0
    mouth: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])
    mouth_step: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])  # last frame's change
    head: list[float] = field(default_factory=lambda: [0.0] * 5)
    head_velocity: list[float] = field(default_factory=lambda: [0.0] * 5)
    next_blink_s: float = -1.0  # < 0: not drawn yet
    rng_state: dict | None = None
    phones: list[tuple[str, float, float]] = field(default_factory=list)  # not yet consumed
    phones_known_until_s: float = 0.0
    gaze_target: list[float] = field(default_factory=lambda: [0.0, 0.0])  # where the eyes jumped to, eye widths
    gaze_wander: list[float] = field(default_factory=lambda: [0.0, 0.0])  # slow drift around it
    next_saccade_s: float = -1.0  # < 0: not drawn yet
    prosody_start: int = 0  # frame of nod[0] / activity[0]
    nod: list[float] = field(default_factory=list)  # per frame, 0..1, for frames not yet generated
    activity: list[float] = field(default_factory=list)


# Anticipatory lip rounding: a rounded vowel or w rounds the lips already during the
# consonants before it that do not use the lips ("stew": rounded from the s on), back
# to the last vowel, pause or labial, and at most ROUND_LOOKBACK_S before the vowel.
ROUNDED = frozenset({"UW", "UH", "OW", "OY", "AO", "W"})
LIP_FREE = frozenset({"T", "D", "N", "L", "S", "Z", "K", "G", "NG", "HH", "Y", "TH", "DH", "R", "SH", "ZH", "CH", "JH"})
ROUND_LOOKBACK_S = 0.3
ROUND_CARRY = 0.8  # the consonants take this share of the vowel's rounding
FLUTTER = 0.03  # mouth parameter units (0..1)
# Shortest visible closure: a p, b or m closes the lips for at least this long (2 frames at 25 fps).
MIN_CLOSURE_S = 0.08


def coarticulated_targets(phones: list[Phone]) -> list[np.ndarray]:
    """Mouth target of each phone ``(4,) float32``, with anticipatory rounding applied.

    A pure function of the phone sequence (each phone looks only at the phones after
    it, within ``ROUND_LOOKBACK_S``), so a block sees the same targets whatever phones
    before it were already dropped. Only rounding (and the spread it excludes) moves
    earlier: jaw opening and lip closure keep the timing of the sound.
    """
    targets = [phone_target(p.name) for p in phones]
    names = [normalise_phone(p.name) for p in phones]
    for k, name in enumerate(names):
        if name not in ROUNDED:
            continue
        rnd = float(targets[k][1]) * ROUND_CARRY
        j = k - 1
        while j >= 0 and names[j] in LIP_FREE and phones[k].start_s - phones[j].start_s <= ROUND_LOOKBACK_S \
                and phones[j + 1].start_s - phones[j].end_s < 0.02:  # no pause in between
            t = targets[j].copy()
            if rnd > t[1]:
                t[2] *= 1.0 - rnd  # rounded lips cannot spread
                t[1] = rnd
                targets[j] = t
            j -= 1
    return targets


def _frame_targets(phones: list[Phone], times: np.ndarray, frame_s: float) -> np.ndarray:
    """Mouth target of each frame: phones weighted by their overlap with the frame.

    A bilabial closure (p, b, m) that covers a third of a frame wins that frame:
    averaged away, the lips would never meet. A closure shorter than
    ``MIN_CLOSURE_S`` of frames is held into the neighbouring frame that holds
    more of it, so that it can be seen.
    """
    from talkcli.motion.cues import CLOSED, hold_closures

    fps = 1.0 / frame_s
    min_frames = max(1, int(np.ceil(MIN_CLOSURE_S * fps - 1e-6)))
    margin = 2 * min_frames  # a held closure reaches at most min_frames - 1 frames beyond its phone
    all_times = np.concatenate([times[0] - frame_s * np.arange(margin, 0, -1), times, times[-1] + frame_s * np.arange(1, margin + 1)])
    # Phones that start too late to touch these frames, even through anticipatory rounding, are left out.
    phones = [p for p in phones if p.start_s < all_times[-1] + frame_s + ROUND_LOOKBACK_S + 0.05]
    targets = coarticulated_targets(phones)
    out = np.zeros((len(all_times), 4), dtype=np.float32)
    closure = np.zeros(len(all_times))
    for i, t0 in enumerate(all_times):
        t1 = t0 + frame_s
        acc = np.zeros(4, dtype=np.float32)
        weight = 0.0
        for p, target in zip(phones, targets):
            overlap = min(t1, p.end_s) - max(t0, p.start_s)
            if overlap <= 0:
                continue
            if target[3] >= 1.0:
                closure[i] += overlap
            acc += overlap * target
            weight += overlap
        if weight > 0:
            # Time not covered by any phone counts as silence (a closed, idle mouth).
            out[i] = acc / max(weight, frame_s)
    closed = np.where(closure >= frame_s / 3, CLOSED, 0)
    closed = hold_closures(closed, closure, min_frames)
    out[closed == CLOSED] = (0.0, 0.0, 0.0, 1.0)
    return out[margin : margin + len(times)]


ProsodyFn = Callable[[float, float], tuple[int, np.ndarray, np.ndarray]]


class MotionGenerator:
    """Yields ``MotionBlock``s in order for every block of ``plan``.

    ``prosody(start_s, end_s)`` (optional) gives ``(first_frame, nod, activity)``
    for the frames of the audio between two phone-batch ends; it is asked once
    per batch, so prosody is analysed chunk by chunk like the phones.
    """

    def __init__(
        self,
        plan: BlockPlan,
        phone_batches: Iterable[PhoneBatch],
        config: MotionConfig,
        state: MotionState | None = None,
        prosody: ProsodyFn | None = None,
    ):
        self.plan = plan
        self.config = config
        self._prosody = prosody
        self._batches = iter(phone_batches)
        self.state = copy.deepcopy(state) if state is not None else MotionState()
        if self.state.rng_state is None:
            rng = np.random.Generator(np.random.PCG64(config.seed))
            self.state.rng_state = rng.bit_generator.state
        self._exhausted = False

    def _need_phones_until(self, t: float) -> None:
        while not self._exhausted and self.state.phones_known_until_s < t:
            try:
                batch = next(self._batches)
            except StopIteration:
                self._exhausted = True
                break
            start = self.state.phones_known_until_s
            self.state.phones.extend((p.name, p.start_s, p.end_s) for p in batch.phones)
            self.state.phones_known_until_s = batch.end_s
            if self._prosody is not None:
                first, nod, activity = self._prosody(start, batch.end_s)
                if not self.state.nod:
                    self.state.prosody_start = first
                # Chunks tile the audio, so each batch's frames follow the last ones stored.
                self.state.nod.extend(float(v) for v in nod)
                self.state.activity.extend(float(v) for v in activity)

    def blocks(self) -> Iterator[MotionBlock]:
        start_block = self.state.frame // self.plan.frames_per_block
        for i in range(start_block, self.plan.n_blocks):
            yield self.next_block(i)

    def next_block(self, index: int) -> MotionBlock:
        """Generate block ``index``; it must be the block after the last one generated."""
        cfg = self.config
        block = self.plan.block(index)
        if block.first_frame != self.state.frame:
            raise ValueError(f"block {index} starts at frame {block.first_frame}, state is at frame {self.state.frame}")
        fps = float(self.plan.fps)
        frame_s = 1.0 / fps
        frames = np.arange(block.first_frame, block.first_frame + block.n_frames)
        times = frames * frame_s + cfg.anticipation_s
        self._need_phones_until(times[-1] + frame_s + 0.5)
        # Drop phones that ended before this block: memory stays flat on long input.
        horizon = times[0] - 0.5
        self.state.phones = [p for p in self.state.phones if p[2] > horizon]
        drop = min(max(0, block.first_frame - self.state.prosody_start), len(self.state.nod))
        if drop:
            del self.state.nod[:drop], self.state.activity[:drop]
            self.state.prosody_start += drop
        phones = [Phone(*p) for p in self.state.phones]
        targets = _frame_targets(phones, times, frame_s)

        rng = np.random.Generator(np.random.PCG64())
        rng.bit_generator.state = self.state.rng_state
        # Per-frame smoothing gains scale with the frame rate so 25 and 50 fps look alike.
        k = 25.0 / fps
        attack = 1 - (1 - cfg.attack) ** k
        release = 1 - (1 - cfg.release) ** k
        mouth = np.zeros((block.n_frames, 4), dtype=np.float32)
        blink = np.zeros(block.n_frames, dtype=np.float32)
        head = np.zeros((block.n_frames, 5), dtype=np.float32)
        gaze = np.zeros((block.n_frames, 2), dtype=np.float32)
        target = np.array(self.state.gaze_target, dtype=np.float64)
        wander = np.array(self.state.gaze_wander, dtype=np.float64)
        cur = np.array(self.state.mouth, dtype=np.float32)
        last_step = np.array(self.state.mouth_step, dtype=np.float32)
        h = np.array(self.state.head, dtype=np.float64)
        hv = np.array(self.state.head_velocity, dtype=np.float64)
        amp = np.array([2.2, 1.6, 1.0, 0.012, 0.008]) * cfg.head_motion
        for j in range(block.n_frames):
            tgt = targets[j]
            closing = tgt[0] < cur[0] or tgt[3] > cur[3]
            gain = release if closing else attack
            step = (tgt - cur) * gain
            # No flutter: a small step that turns back on the last frame's motion is not taken
            # (fast speech swings a consonant cluster's targets back and forth by a few hundredths).
            step[(step * last_step < 0) & (np.abs(step) < FLUTTER)] = 0.0
            cur = cur + step
            if tgt[3] >= 1.0:
                cur = tgt.copy()  # a closure is reached in the frame it starts: lips must meet
            last_step = cur - (mouth[j - 1] if j else np.array(self.state.mouth, dtype=np.float32))
            mouth[j] = cur
            t = frames[j] * frame_s
            k_p = int(frames[j]) - self.state.prosody_start
            known = 0 <= k_p < len(self.state.nod)
            nod = self.state.nod[k_p] if known else 0.0
            activity = self.state.activity[k_p] if known else 1.0
            if self.state.next_blink_s < 0:
                self.state.next_blink_s = t + float(rng.uniform(0.8, 2.5))
            phase = (t - self.state.next_blink_s) / cfg.blink_duration_s
            if 0 <= phase <= 1:
                # The lids close fast (about a third of the blink) and open more slowly.
                shut = 0.36
                blink[j] = float(np.sin(0.5 * np.pi * phase / shut) if phase < shut else np.cos(0.5 * np.pi * (phase - shut) / (1 - shut)))
            elif phase > 1:
                if float(rng.uniform()) < 0.1:
                    gap = 0.12  # now and then a double blink
                else:
                    # Gamma-distributed gaps, a little shorter in pauses, never under 1.2 s.
                    mean = cfg.blink_interval_s * (0.75 + 0.25 * activity)
                    gap = max(1.2, float(rng.gamma(3.0, mean / 3.0)))
                self.state.next_blink_s += cfg.blink_duration_s + gap
            # Gaze: small jumps every 1.5-4 s, held, with a slow drift around the point jumped to.
            if self.state.next_saccade_s < 0 or t >= self.state.next_saccade_s:
                if self.state.next_saccade_s >= 0:
                    if float(rng.uniform()) < 0.35:
                        target[:] = 0.0  # back to the camera
                    else:
                        angle, radius = float(rng.uniform(0, 2 * np.pi)), 0.06 * np.sqrt(float(rng.uniform()))
                        target[:] = (radius * np.cos(angle), 0.5 * radius * np.sin(angle))
                self.state.next_saccade_s = t + float(rng.uniform(1.5, 4.0))
            tau, sigma = 1.5, 0.012
            wander += -wander * frame_s / tau + sigma * np.sqrt(2 * frame_s / tau) * rng.standard_normal(2)
            gaze[j] = ((target + wander) * min(1.0, cfg.head_motion)).astype(np.float32)
            # Head: a damped spring driven by noise (second order, so motion is smooth), per axis;
            # calmer in pauses, with short downward nods on stressed syllables.
            drive = 0.4 + 0.6 * activity
            noise = rng.standard_normal(5) * drive
            omega = 2 * np.pi * 0.35  # rad/s: slow sway
            hv += (-omega * omega * h - 2 * 0.7 * omega * hv) * frame_s + omega * omega * 0.9 * noise * np.sqrt(frame_s)
            h += hv * frame_s
            head[j] = (h * amp).astype(np.float32)
            head[j, 1] += np.float32(cfg.head_motion * 2.0 * nod)  # degrees; positive pitch tips the nose down
        self.state.mouth = [float(v) for v in cur]
        self.state.mouth_step = [float(v) for v in last_step]
        self.state.head = [float(v) for v in h]
        self.state.head_velocity = [float(v) for v in hv]
        self.state.gaze_target = [float(v) for v in target]
        self.state.gaze_wander = [float(v) for v in wander]
        self.state.rng_state = rng.bit_generator.state
        self.state.frame = block.first_frame + block.n_frames
        if cfg.head_motion == 0:
            blink[:] = 0.0  # --head-motion 0: a still portrait that only speaks
        return MotionBlock(first_frame=block.first_frame, mouth=mouth, blink=blink, head=head, gaze=gaze)
