"""The server's heap trim (gru_core._malloc): freed memory really goes back to the system, and the setting."""

import os
import sys
from pathlib import Path

import pytest

from gru_core import _malloc


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_trim_gives_freed_heap_memory_back():
    if not sys.platform.startswith("linux") or _malloc._LIBC is None:
        pytest.skip("SKIPPED, NOT PASSED: no glibc malloc here, nothing to trim")
    # 128 MB of 64 kB strings (under malloc's mmap threshold: they live in the heap), then free 7 of every 8: the
    # freed ones lie between kept ones, where malloc keeps them unless trimmed
    chunks = [b"x" * (64 * 1024 - 64) + bytes([i % 251]) for i in range(2048)]
    kept = chunks[::8]
    del chunks
    before = rss_bytes()
    assert _malloc.trim()
    after = rss_bytes()
    assert before - after > 64 * 2**20, (before / 2**20, after / 2**20)
    assert all(len(k) == 64 * 1024 - 63 for k in kept)  # what was kept is intact


def test_the_trimmer_can_be_turned_off_and_rejects_nonsense(monkeypatch):
    monkeypatch.setenv(_malloc.TRIM_EVERY_ENV, "0")
    assert _malloc.keep_heap_small() is False
    monkeypatch.setenv(_malloc.TRIM_EVERY_ENV, "often")
    with pytest.raises(ValueError, match="GRU_LAB_TRIM_EVERY"):
        _malloc.keep_heap_small()


ARENAS = r"""
import sys, threading
from gru_core import _malloc
if sys.argv[1] == "server":
    assert _malloc.keep_heap_small()
together = threading.Barrier(6)
def work():  # six threads alive at once, each allocating: glibc gives each new thread an arena of its own
    together.wait()
    kept = [bytearray(b"x" * 50_000) for _ in range(50)]
    together.wait()
threads = [threading.Thread(target=work) for _ in range(6)]
[t.start() for t in threads]
[t.join() for t in threads]
_malloc._LIBC.malloc_stats()  # to stderr, one "Arena i:" block per arena
"""


@pytest.mark.parametrize("process, most", [("plain", None), ("server", _malloc.ARENA_MAX)])
def test_the_server_keeps_few_malloc_arenas(process, most):
    """The soak's growth was free memory kept by one arena per thread of the server's pools: keep_heap_small caps
    them (and without it the same threads do make more, so the check can tell)."""
    import subprocess

    if not sys.platform.startswith("linux") or _malloc._LIBC is None:
        pytest.skip("SKIPPED, NOT PASSED: no glibc malloc here")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", ARENAS, process], capture_output=True, text=True, env=env,
                         cwd=Path(__file__).resolve().parents[1], timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    arenas = out.stderr.count("Arena ")
    if most is None:
        assert arenas > 2 * _malloc.ARENA_MAX
    else:
        assert 1 <= arenas <= most
