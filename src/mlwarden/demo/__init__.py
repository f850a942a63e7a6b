"""The bundled demo (`mlwarden demo`): the guide's vulnerable and secure setups, assessed.

:mod:`~mlwarden.demo.setups` trains both setups on scikit-learn's digits and writes their
artifacts, code, policies and data; :mod:`~mlwarden.demo.story` assesses both and writes the
side-by-side report; :mod:`~mlwarden.demo.files` builds the folder of realistic model files
(some with harmless planted payloads) that the scanner demo and tests use.
"""

from __future__ import annotations

from mlwarden.demo.files import DemoFile, build_demo_folder

__all__ = ["DemoFile", "build_demo_folder"]
