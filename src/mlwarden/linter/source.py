"""Reads what is linted: Python files and the code cells of Jupyter notebooks.

A notebook becomes one module (cells share their imports and variables as when run top to
bottom) with a map back from module lines to (cell, line in cell). IPython magics and shell
escapes (``%pip``, ``!ls``, ``x = !cmd``) are blanked out, keeping line numbers; a cell that
is still not Python (``%%bash``, a syntax error) is left out and reported as skipped. Nothing
read here is imported or executed.
"""

from __future__ import annotations

import ast
import io
import json
import tokenize
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from mlwarden.errors import InputError

_PYTHON_CELL_MAGICS = frozenset(("time", "timeit", "capture", "prun", "debug", "px"))


@dataclass(frozen=True)
class SourceFile:
    """The Python text to lint and, for notebooks, where each code cell starts."""

    text: str
    #: (first module line, 1-based code-cell number) for each cell kept, in order.
    cells: tuple[tuple[int, int], ...] = ()
    #: reasons for cells left out (``"cell 3: syntax error ..."``).
    skipped_cells: tuple[str, ...] = ()

    @property
    def is_notebook(self) -> bool:
        return bool(self.cells) or bool(self.skipped_cells)

    def locate(self, line: int) -> tuple[int | None, int]:
        """(code-cell number or None, line within the cell) of a module line."""
        if not self.cells:
            return None, line
        index = bisect_right([start for start, _ in self.cells], line) - 1
        start, cell = self.cells[max(index, 0)]
        return cell, line - start + 1


def read_source(path: Path) -> SourceFile:
    """Read a ``.py`` file (any PEP 263 encoding) or the code cells of an ``.ipynb``.

    Raises:
        InputError: the file is not text in its declared encoding or not a notebook.
        OSError: the file cannot be read.
    """
    data = path.read_bytes()
    if path.suffix.lower() == ".ipynb":
        return _notebook(data, path)
    return SourceFile(decode(data, path))


def decode(data: bytes, path: Path) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode("utf-8-sig" if encoding == "utf-8-sig" else encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        raise InputError(f"{path}: cannot decode as Python source: {exc}") from None


def _notebook(data: bytes, path: Path) -> SourceFile:
    try:
        doc = json.loads(data)
        cells = doc["cells"] if isinstance(doc, dict) else doc
        if not isinstance(cells, list):
            raise TypeError("cells is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a Jupyter notebook: {exc}") from None
    parts: list[str] = []
    starts: list[tuple[int, int]] = []
    skipped: list[str] = []
    line = 1
    number = 0
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        number += 1
        text = _cell_text(cell.get("source", ""))
        if text is None:
            skipped.append(f"cell {number}: not Python (cell magic)")
            continue
        try:
            ast.parse(text)
        except (SyntaxError, ValueError) as exc:
            skipped.append(f"cell {number}: syntax error: {exc}")
            continue
        starts.append((line, number))
        parts.append(text)
        line += text.count("\n") + 1
    return SourceFile("\n".join(parts), tuple(starts), tuple(skipped))


def _cell_text(source: object) -> str | None:
    text = "".join(source) if isinstance(source, list) else str(source)
    lines = text.split("\n")
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].lstrip()[2:].split(maxsplit=1)
        if not magic or magic[0] not in _PYTHON_CELL_MAGICS:
            return None
        lines[0] = ""
    return "\n".join("" if _is_magic(line) else line for line in lines).rstrip("\n")


def _is_magic(line: str) -> bool:
    stripped = line.lstrip()
    if stripped.startswith(("%", "!", "?")) or (stripped.endswith("?") and "#" not in stripped):
        return True
    head, sep, tail = stripped.partition("=")
    return bool(sep) and tail.lstrip().startswith(("!", "%")) and head.strip().isidentifier()
