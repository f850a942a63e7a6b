"""Errors of the integrity concern: what could not be hashed, read, verified or loaded.

Two families. Bad input (a key that does not parse, an unreadable directory, a malformed
lockfile) derives from :class:`~mlwarden.errors.InputError`: the CLI exits 2. A model that
does not verify raises :class:`VerificationError` (the CLI exits 1): it carries every
:class:`Problem` found, each with the rule id that reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlwarden.errors import InputError, MlwardenError, UsageError

#: How many problems the exception message lists before summarising the rest.
_LISTED = 20


@dataclass(frozen=True)
class Problem:
    """One reason a verification failed (or a warning about what it could not cover).

    Attributes:
        rule_id: the ``INT-...`` rule that reports it.
        message: what differs, in one line.
        path: the file it concerns, relative to the model root ("" for the whole model).
        expected: what the signature or lockfile says (a digest, a name), if any.
        actual: what was found, if any.
    """

    rule_id: str
    message: str
    path: str = ""
    expected: str = ""
    actual: str = ""

    def __str__(self) -> str:
        return f"[{self.rule_id}] {self.message}"


class HashingError(InputError):
    """A model cannot be hashed as asked (symlink, special file, unreadable, odd name, limit)."""

    hint = (
        "Check the model directory's permissions and contents; symbolic links need "
        "--allow-symlinks (allow_symlinks in the integrity config), and --max-files bounds "
        "the number of files."
    )


class KeyFormatError(InputError):
    """A key file cannot be read, is of an unsupported type, or its passphrase is wrong."""

    hint = (
        "Use a PEM key: ECDSA P-256/P-384/P-521 (model_signing compatible) or Ed25519; "
        "`mlwarden keygen` writes a pair. Encrypted keys need --passphrase-env VAR."
    )


class LockfileError(InputError):
    """The approved-hash lockfile cannot be read or is malformed."""

    hint = "Fix or regenerate the lockfile with `mlwarden lock add`; review it like code."


class NoSafeLoaderError(UsageError):
    """``safe_load`` was asked to load something it has no code-free loader for."""

    hint = (
        "Re-export the model to safetensors, ONNX, NumPy or skops, or load a torch "
        "state_dict; formats that run code on load are refused."
    )


class VerificationError(MlwardenError):
    """The model does not match its signature, its approved digest or its safety checks.

    Attributes:
        problems: every problem found (never empty).
    """

    hint = (
        "Do not use this model. Obtain it again from a trusted source; if the change is "
        "intended, re-sign it (mlwarden sign) or re-approve it (mlwarden lock add)."
    )

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], *, hint: str | None = None):
        self.problems: tuple[Problem, ...] = tuple(problems) or (
            Problem("INT-VER-005", "verification failed for an unspecified reason"),
        )
        lines = [str(p) for p in self.problems[:_LISTED]]
        if len(self.problems) > _LISTED:
            lines.append(f"... and {len(self.problems) - _LISTED} more")
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(
            f"verification failed ({len(self.problems)} {noun}):\n  " + "\n  ".join(lines),
            hint=hint,
        )


class SignatureError(VerificationError):
    """The signature does not verify with the given key (wrong key, or tampered bundle)."""


class BundleError(VerificationError):
    """The signature bundle is malformed or not an OpenSSF model-signing v1.0 bundle."""


class ManifestMismatchError(VerificationError):
    """The model's files differ from the signed manifest (changed, missing or extra)."""


class NotApprovedError(VerificationError):
    """The model's digest is not the one approved in the lockfile."""


class UnsafeModelError(VerificationError):
    """``safe_load`` refused content: the scan found a problem or the format runs code."""


class MetricGateError(VerificationError):
    """The loaded model scored below the required threshold on the reference set."""
