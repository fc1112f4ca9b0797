"""FrameChain.stream: paste-back on its own thread gives the frames of ``frames``, in order,
with each block's end marked, whatever the paste thread's timing."""

from __future__ import annotations

import time

import numpy as np

from talkcli.pipeline import FrameChain
from talkcli.render.paste import CropFrame, PasteData
from talkcli.timing import Clock


class _Motion:
    def next_block(self, index: int) -> int:
        return index


class _Source:
    crop_size = 8

    def crops(self, block: int):
        for k in range(4 if block != 2 else 1):  # an uneven block too
            yield CropFrame(np.full((8, 8, 3), 10 * block + k, np.uint8), PasteData())


class _Paste:
    shape = (8, 8)

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def paste_frame(self, crop: CropFrame) -> np.ndarray:
        time.sleep(float(self.rng.uniform(0, 0.004)))  # uneven paste times
        return crop.image + 1


def test_stream_gives_the_frames_in_order_with_block_ends():
    chain = FrameChain(_Motion(), _Source(), None, _Paste(), Clock())
    sequential = [frame for index in range(5) for frame in chain.frames(index)]
    got, blocks, n = [], [], 0
    for frame, block_end in chain.stream(range(5)):
        if block_end:
            blocks.append(n)
            n = 0
        else:
            got.append(frame)
            n += 1
    assert blocks == [4, 4, 1, 4, 4]
    assert len(got) == len(sequential) and all(np.array_equal(a, b) for a, b in zip(got, sequential))


def test_stream_without_paste_back_gives_the_crops():
    chain = FrameChain(_Motion(), _Source(), None, None, Clock())
    out = list(chain.stream(range(2)))
    assert [end for _, end in out] == [False] * 4 + [True] + [False] * 4 + [True]
    assert [int(f[0, 0, 0]) for f, end in out if not end] == [0, 1, 2, 3, 10, 11, 12, 13]
