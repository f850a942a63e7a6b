"""A read-only, bounded view of part of a stream (an archive member, a bytes constant)."""

from __future__ import annotations

import io
from typing import BinaryIO


class Window(io.RawIOBase):
    """Reads ``length`` bytes of ``base`` starting at ``offset``; never reads past them.

    Seeking works when ``base`` is seekable; otherwise the start is reached by reading and
    discarding, and the window is forward-only.
    """

    def __init__(self, base: BinaryIO, offset: int, length: int) -> None:
        super().__init__()
        self._base = base
        self._start = offset
        self._length = max(0, length)
        self._pos = 0
        self._seekable = base.seekable()
        if self._seekable:
            base.seek(offset)
        else:
            _discard(base, offset)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("window over a non-seekable stream")
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = min(max(0, base + pos), self._length)
        self._base.seek(self._start + self._pos)
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        room = min(len(buffer), self._length - self._pos)
        if room <= 0:
            return 0
        data = self._base.read(room)
        n = len(data)
        memoryview(buffer)[:n] = data
        self._pos += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        room = self._length - self._pos
        if size is None or size < 0 or size > room:
            size = room
        if size <= 0:
            return b""
        data = self._base.read(size)
        self._pos += len(data)
        return data

    def close(self) -> None:
        if not self.closed:
            self._base.close()
        super().close()


def _discard(stream: BinaryIO, n: int) -> None:
    while n > 0:
        chunk = stream.read(min(n, 1 << 20))
        if not chunk:
            return
        n -= len(chunk)
