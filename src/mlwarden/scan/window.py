"""A read-only, bounded view of part of a stream (an archive member, a bytes constant)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


class Window(io.RawIOBase):
    """Reads ``length`` bytes of ``base`` starting at ``start``; never reads past them.

    Over a seekable base every read seeks first, so several windows can share one base
    stream without disturbing each other. Over a non-seekable base the start is reached by
    reading and discarding, and the window is forward-only.

    Args:
        base: the underlying stream.
        start: offset of the first byte of the window in ``base``.
        length: number of bytes in the window.
        close_base: close ``base`` when the window is closed (the window owns it).
    """

    def __init__(self, base: BinaryIO, start: int, length: int, *, close_base: bool = True) -> None:
        super().__init__()
        self._base, self._start, self._length, self._pos = base, start, max(length, 0), 0
        self._close_base = close_base
        self._seekable = base.seekable()
        if not self._seekable:
            _discard(base, start)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("window over a non-seekable stream")
        origin = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        if origin + offset < 0:
            raise ValueError("negative seek position")
        self._pos = origin + offset
        return self._pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._length - self._pos)
        if want <= 0:
            return 0
        if self._seekable:
            self._base.seek(self._start + self._pos)
        data = self._base.read(want)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed and self._close_base:
            self._base.close()
        super().close()


def open_window(base: BinaryIO, start: int, length: int) -> BinaryIO:
    """A buffered view of ``length`` bytes of a shared ``base`` from ``start``."""
    return io.BufferedReader(Window(base, start, length, close_base=False))


def _discard(stream: BinaryIO, n: int) -> None:
    while n > 0:
        chunk = stream.read(min(n, 1 << 20))
        if not chunk:
            return
        n -= len(chunk)
