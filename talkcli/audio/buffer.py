"""Analysis audio that stays on disk: read by slices, never held whole.

An hour of 16 kHz float32 is 230 MB; every stage reads it in pieces (phone
chunks, prosody stretches, level blocks), so a file-backed buffer keeps memory
flat whatever the length. Slicing returns ordinary read-only numpy arrays.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ITEM = 4  # bytes per float32 sample


class FileSamples:
    """``(n,) float32`` samples in a raw little-endian file, read on demand by slicing."""

    dtype = np.dtype("<f4")
    ndim = 1

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._n = self.path.stat().st_size // ITEM

    def __len__(self) -> int:
        return self._n

    @property
    def size(self) -> int:
        return self._n

    @property
    def shape(self) -> tuple[int]:
        return (self._n,)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            i = int(key) + (self._n if key < 0 else 0)
            if not 0 <= i < self._n:
                raise IndexError(key)
            return self[i : i + 1][0]
        if not isinstance(key, slice):
            raise TypeError("FileSamples supports integer and slice indexing")
        start, stop, step = key.indices(self._n)
        if stop <= start:
            return np.zeros(0, np.float32)
        with open(self.path, "rb") as f:
            f.seek(start * ITEM)
            out = np.fromfile(f, dtype=self.dtype, count=stop - start)
        out.flags.writeable = False
        return out[::step] if step != 1 else out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """The whole clip in memory: for short clips and tests, never on the render path."""
        data = self[:]
        return data.astype(dtype) if dtype is not None else data


class NoisySamples:
    """``samples`` plus white noise at ``level_db`` dBFS that depends only on the sample position.

    Noise comes in fixed blocks keyed by (seed, block index), so any slice sees
    the same noise whether the audio is read in one piece or chunk by chunk.
    """

    BLOCK = 1 << 16

    def __init__(self, samples, level_db: float, seed: int) -> None:
        self.samples = samples
        self.gain = np.float32(10 ** (level_db / 20))
        self.seed = seed
        self.dtype = np.dtype(np.float32)
        self.ndim = 1

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def size(self) -> int:
        return len(self.samples)

    @property
    def shape(self) -> tuple[int]:
        return (len(self.samples),)

    def _noise(self, start: int, stop: int) -> np.ndarray:
        out = np.empty(stop - start, np.float32)
        b0, b1 = start // self.BLOCK, (stop - 1) // self.BLOCK
        for b in range(b0, b1 + 1):
            block = np.random.Generator(np.random.PCG64([self.seed, b])).standard_normal(self.BLOCK, dtype=np.float32)
            lo, hi = max(start, b * self.BLOCK), min(stop, (b + 1) * self.BLOCK)
            out[lo - start : hi - start] = block[lo - b * self.BLOCK : hi - b * self.BLOCK]
        return out * self.gain

    def __getitem__(self, key) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError("NoisySamples supports slice indexing")
        start, stop, step = key.indices(len(self.samples))
        if stop <= start:
            return np.zeros(0, np.float32)
        out = np.asarray(self.samples[start:stop], dtype=np.float32) + self._noise(start, stop)
        return out[::step] if step != 1 else out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        data = self[:]
        return data.astype(dtype) if dtype is not None else data
