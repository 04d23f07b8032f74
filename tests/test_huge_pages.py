"""The transparent-huge-page hint on outputs the kernels write in full
(csrc/cpu/huge_pages.h): from 8 MB, y and dx get MADV_HUGEPAGE on their
2 MB-aligned part before the kernels first touch them, which Linux shows as
the "hg" flag of the mapping that holds them (/proc/self/smaps). The values
stay the reference's: the hint never touches the contents."""

import mmap
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.support import assert_close
from spatial_ops import _core

HINT_BYTES = 8 << 20
HUGE_PAGE = 2 << 20
THP = Path("/sys/kernel/mm/transparent_hugepage")
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not THP.exists(),
    reason="transparent huge pages are a Linux feature this kernel lacks",
)


def mappings():
    """[(start, end, VmFlags)] of this process, from /proc/self/smaps."""
    result, start, end = [], None, None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and not head.endswith(":"):
            start, end = (int(part, 16) for part in head.split("-"))
        elif head == "VmFlags:":
            result.append((start, end, set(line.split()[1:])))
    return result


def advised_bytes(array):
    """How many bytes of array lie in mappings flagged with the huge-page advice."""
    begin = array.__array_interface__["data"][0]
    end = begin + array.nbytes
    return sum(max(0, min(end, m_end) - max(begin, m_start)) for m_start, m_end, flags in mappings() if "hg" in flags)


def whole_huge_pages(array):
    begin = array.__array_interface__["data"][0]
    first = -(-begin // HUGE_PAGE) * HUGE_PAGE
    last = (begin + array.nbytes) // HUGE_PAGE * HUGE_PAGE
    return max(0, last - first)


def operands(rng, batch, spatial=(256, 256)):
    x = rng.normal(size=(batch, *spatial)).astype(np.float32)
    kernel, bias = (rng.normal(size=spatial).astype(np.float32) for _ in range(2))
    return x, kernel, bias


def test_forward_and_backward_outputs_are_advised_on_their_whole_huge_pages(rng):
    x, kernel, bias = operands(rng, batch=64)  # 16 MB
    y = np.empty_like(x)
    _core.forward(x, kernel, bias, "relu", [], "none", out=y)
    assert advised_bytes(y) >= whole_huge_pages(y) > 0
    assert_close(y, np.maximum(x * kernel + bias, 0), tf.float32)

    dy = rng.normal(size=x.shape).astype(np.float32)
    dx, dkernel, dbias = np.empty_like(x), np.empty_like(kernel), np.empty_like(bias)
    _core.backward(dy, x, kernel, bias, "relu", [], "none", out=(dx, dkernel, dbias))
    assert advised_bytes(dx) >= whole_huge_pages(dx) > 0
    assert_close(dx, np.where(x * kernel + bias > 0, dy * kernel, 0), tf.float32)


def fresh_mapping(floats):
    """A float32 array in an anonymous mapping of its own, no page touched yet."""
    return np.frombuffer(mmap.mmap(-1, floats * 4), np.float32)


def test_the_advice_stays_inside_the_output(rng):
    """In a mapping larger than y, only y's whole huge pages carry the flag."""
    x, kernel, bias = operands(rng, batch=40)  # 10 MB: not a multiple of 2 MB
    block = fresh_mapping(x.size + HUGE_PAGE)
    offset = (-block.__array_interface__["data"][0] % HUGE_PAGE) // 4 + 1000  # y starts mid-page
    y = block[offset : offset + x.size].reshape(x.shape)
    assert advised_bytes(block) == 0
    _core.forward(x, kernel, bias, "relu", [], "none", out=y)
    assert advised_bytes(block) == whole_huge_pages(y) > 0
    assert_close(y, np.maximum(x * kernel + bias, 0), tf.float32)


def test_outputs_below_the_hint_size_are_left_alone(rng):
    x, kernel, bias = operands(rng, batch=24)  # 6 MB
    assert x.nbytes < HINT_BYTES
    block = fresh_mapping(x.size)
    _core.forward(x, kernel, bias, "relu", [], "none", out=block.reshape(x.shape))
    assert advised_bytes(block) == 0


def test_the_tensorflow_op_advises_its_fresh_output(rng):
    x, kernel, bias = (tf.constant(a) for a in operands(rng, batch=64))
    y = spatial_ops.spatial_dense(x, kernel, bias, activation="gelu")
    y_array = y.numpy()  # the tensor's own buffer (aligned CPU tensors share it)
    assert advised_bytes(y_array) >= whole_huge_pages(y_array) > 0
    assert_close(y_array, spatial_ops.reference.spatial_dense(x, kernel, bias, activation="gelu").numpy(), tf.float32)
