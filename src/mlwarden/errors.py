"""Error hierarchy: every error mlwarden raises derives from :class:`MlwardenError`.

Each error carries a ``diagnostics()`` text that tells the user the next step, so the CLI can
print something actionable instead of a traceback.
"""

from __future__ import annotations


class MlwardenError(Exception):
    """Root of every error raised by mlwarden."""

    hint: str = "Run with --help for usage, or see the README."

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def diagnostics(self) -> str:
        """A user-facing explanation: what went wrong and what to do next."""
        return f"{self}\nhint: {self.hint}"


class ConfigError(MlwardenError):
    """The configuration file, an environment variable or a flag is invalid."""

    hint = "Check mlwarden.toml / [tool.mlwarden] / MLWARDEN_* values; `mlwarden config show`."


class UsageError(MlwardenError):
    """The caller asked for something that cannot be done as asked."""


class InputError(MlwardenError):
    """An input path or file cannot be read or is not what it claims to be."""

    hint = "Check that the path exists and is readable."


class PluginError(MlwardenError):
    """A plugin (entry point) is broken or declares a duplicate id."""

    hint = "Uninstall or fix the plugin package named in the message."


class ScanLimitExceeded(MlwardenError):
    """A per-file time, size or depth limit was hit while scanning."""

    hint = "Raise the [scan] limits in mlwarden.toml if the file is trusted to be large."


class MalformedInput(MlwardenError):
    """Scanned content does not follow its format (used inside scanners)."""
