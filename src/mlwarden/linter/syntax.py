"""Small helpers on syntax trees shared by the interpreter and the rules."""

from __future__ import annotations

import ast


def dotted(node: ast.expr) -> str:
    """``a.b.c`` for a Name/Attribute chain (``f().b`` for a call base), else ``""``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):
        inner = dotted(node.func)
        return f"{inner}()." + ".".join(reversed(parts)) if inner and parts else ""
    return ""
