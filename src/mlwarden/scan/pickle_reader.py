"""Buffered, bounded reading of a pickle stream: lines, exact reads and skips by seeking."""

from __future__ import annotations

from typing import BinaryIO

from mlwarden.errors import MalformedInput, ScanLimitExceeded

_CHUNK = 1 << 16
#: The unpickler reads text operands of any length; keep the ones a real file would use.
_MAX_LINE = 16 << 20


class Reader:
    """Reads a binary stream through an internal buffer; ``skip`` seeks when it can."""

    def __init__(self, stream: BinaryIO, size: int | None = None) -> None:
        self.stream = stream
        self.size = size
        self.buf = b""
        self.pos = 0
        self.base = stream.tell() if stream.seekable() else 0
        self.seekable = stream.seekable()

    def tell(self) -> int:
        return self.base + self.pos

    def _fill(self, need: int) -> bool:
        """Make ``need`` bytes available from ``pos``; False at end of stream."""
        avail = len(self.buf) - self.pos
        if avail >= need:
            return True
        parts = [self.buf[self.pos :]]
        self.base += self.pos
        self.pos = 0
        while avail < need:
            chunk = self.stream.read(max(_CHUNK, need - avail))
            if not chunk:
                self.buf = b"".join(parts)
                return False
            parts.append(chunk)
            avail += len(chunk)
        self.buf = b"".join(parts)
        return True

    def read_byte(self) -> int:
        """Next byte, or -1 at end of stream."""
        if self.pos >= len(self.buf) and not self._fill(1):
            return -1
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def read_exact(self, n: int) -> bytes:
        if not self._fill(n):
            raise MalformedInput("pickle data was truncated")
        data = self.buf[self.pos : self.pos + n]
        self.pos += n
        return data

    def readline(self) -> bytes:
        """A line without its newline (the unpickler requires the newline)."""
        while True:
            end = self.buf.find(b"\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos : end]
                self.pos = end + 1
                return line
            pending = len(self.buf) - self.pos
            if pending > _MAX_LINE:
                raise ScanLimitExceeded(f"pickle text operand longer than {_MAX_LINE} bytes")
            if not self._fill(pending + _CHUNK) and len(self.buf) - self.pos == pending:
                raise MalformedInput("pickle line is missing its newline")

    def available(self, n: int) -> bool:
        """Whether ``n`` more bytes exist (without buffering large amounts)."""
        if n <= _CHUNK * 16:
            return self._fill(n)
        if self.size is not None:
            return self.tell() + n <= self.size
        return True

    def skip(self, n: int) -> None:
        """Skip ``n`` bytes; raise MalformedInput if the stream is shorter."""
        avail = len(self.buf) - self.pos
        if n <= avail:
            self.pos += n
            return
        target = self.tell() + n
        if self.size is not None and target > self.size:
            raise MalformedInput("pickle data was truncated")
        if self.seekable:
            self.stream.seek(target)
            self.base, self.buf, self.pos = target, b"", 0
            return
        n -= avail
        self.base, self.buf, self.pos = self.tell() + avail, b"", 0
        while n > 0:
            chunk = self.stream.read(min(n, 1 << 20))
            if not chunk:
                raise MalformedInput("pickle data was truncated")
            n -= len(chunk)
            self.base += len(chunk)

    def at_eof(self) -> bool:
        return self.pos >= len(self.buf) and not self._fill(1)

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return self.buf[self.pos : self.pos + n]
