"""One typed settings model for every concern, read from files and the environment.

Precedence, highest first: CLI flags (passed in as overrides) > ``MLWARDEN_*`` environment
variables (``MLWARDEN_SCAN__FAIL_ON=high``) > ``mlwarden.toml`` > ``[tool.mlwarden]`` in
``pyproject.toml`` > defaults. This is the only module that reads configuration files or the
environment. Each concern owns one section (sub-model); secrets are ``SecretStr``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    PyprojectTomlConfigSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from mlwarden.assess.settings import AssessSettings
from mlwarden.attacks.settings import AuditSettings
from mlwarden.data.settings import DataSettings
from mlwarden.errors import ConfigError
from mlwarden.findings import Severity
from mlwarden.gateway.policy import GatewayPolicy
from mlwarden.monitor.settings import DriftSettings
from mlwarden.scan.base import GiB, ScanLimits
from mlwarden.scan.engine import ScanOptions
from mlwarden.scan.policy import PicklePolicy

if TYPE_CHECKING:
    from mlwarden.linter.options import LintOptions

CONFIG_FILE = "mlwarden.toml"
_STRICT = ConfigDict(extra="forbid", validate_assignment=True)


class ScanSettings(BaseModel):
    """[scan]: the model-artifact scanner."""

    model_config = _STRICT

    fail_on: Severity = Field(
        Severity.MEDIUM, description="Exit 1 when a finding is at or above this severity."
    )
    allow: list[str] = Field(
        default_factory=list,
        description="Extra trusted pickle globals, 'module.name' or 'module.*' (unknown only).",
    )
    include: list[str] = Field(default_factory=list, description="Only scan paths matching.")
    exclude: list[str] = Field(default_factory=list, description="Skip paths matching.")
    jobs: int = Field(0, ge=0, description="Worker processes; 0 = one per core (max 8).")
    follow_symlinks: bool = Field(False, description="Follow symbolic links while walking.")
    max_file_seconds: float = Field(120.0, gt=0, description="Time budget per file (seconds).")
    max_depth: int = Field(6, ge=1, le=64, description="Deepest archive nesting scanned.")
    max_expanded_bytes: int = Field(
        8 * GiB, gt=0, description="Largest decompressed size of one member (bytes)."
    )
    max_ratio: float = Field(1000.0, gt=1, description="Largest compression ratio allowed.")

    @field_validator("fail_on", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        return Severity.parse(value) if isinstance(value, str) else value

    def to_options(self) -> ScanOptions:
        """The engine's options for these settings."""
        limits = ScanLimits(
            max_file_seconds=self.max_file_seconds,
            max_depth=self.max_depth,
            max_expanded_bytes=self.max_expanded_bytes,
            max_ratio=self.max_ratio,
        )
        return ScanOptions(
            policy=PicklePolicy(frozenset(self.allow)),
            limits=limits,
            include=tuple(self.include),
            exclude=tuple(self.exclude),
            follow_symlinks=self.follow_symlinks,
            jobs=self.jobs,
        )


class IntegritySettings(BaseModel):
    """[integrity]: model hashing, signing, verification and the approved-hash lockfile."""

    model_config = _STRICT

    algorithm: Literal["sha256", "blake2b", "blake3"] = Field(
        "sha256", description="Per-file hash (model_signing's CLI verifies sha256 only)."
    )
    shard_size: int = Field(
        0, ge=0, description="0 = one digest per file; N = hash files in N-byte shards."
    )
    ignore: list[str] = Field(
        default_factory=list, description="Paths or globs left out of manifests."
    )
    ignore_git: bool = Field(True, description="Leave out .git, .github, .gitignore, ...")
    allow_symlinks: bool = Field(False, description="Follow symbolic links to files.")
    workers: int = Field(0, ge=0, description="Hashing threads; 0 = one per core.")
    max_files: int = Field(1_000_000, gt=0, description="Refuse models with more files.")
    lockfile: str = Field("mlwarden.lock", description="The approved-hash lockfile.")
    signature: str = Field("model.sig", description="Signature bundle path (sign/verify).")
    private_key: str = Field("", description="PEM private key for `mlwarden sign`.")
    public_key: str = Field("", description="PEM public key for `mlwarden verify`.")
    passphrase: SecretStr | None = Field(
        None, description="Private key passphrase (prefer MLWARDEN_INTEGRITY__PASSPHRASE)."
    )


class LintSettings(BaseModel):
    """[lint]: the ML security linter (`mlwarden lint`)."""

    model_config = _STRICT

    fail_on: Severity = Field(
        Severity.LOW, description="Exit 1 when a finding is at or above this severity."
    )
    select: list[str] = Field(
        default_factory=list, description="Only these rules (ids, prefixes or risks like ML06)."
    )
    ignore: list[str] = Field(default_factory=list, description="Never report these rules.")
    exclude: list[str] = Field(default_factory=list, description="Skip paths matching.")
    per_file_ignores: dict[str, list[str]] = Field(
        default_factory=dict, description='Rules ignored per glob, e.g. {"tests/*" = ["ML06"]}.'
    )
    jobs: int = Field(0, ge=0, description="Worker processes; 0 = one per core.")
    max_file_bytes: int = Field(4 * 1024 * 1024, gt=0, description="Skip larger files.")
    min_confidence: Literal["low", "medium", "high"] = Field(
        "low", description="Hide findings below this confidence."
    )
    baseline: str = Field("", description="Baseline file of accepted findings ('' = none).")

    @field_validator("fail_on", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Any:
        return Severity.parse(value) if isinstance(value, str) else value

    def to_options(self) -> LintOptions:
        """The linter's :class:`~mlwarden.linter.options.LintOptions` for these settings."""
        from mlwarden.findings import Confidence
        from mlwarden.linter.options import LintOptions

        return LintOptions(
            select=tuple(self.select),
            ignore=tuple(self.ignore),
            per_file_ignores=tuple((g, tuple(c)) for g, c in self.per_file_ignores.items()),
            exclude=tuple(self.exclude),
            jobs=self.jobs,
            max_file_bytes=self.max_file_bytes,
            min_confidence=Confidence(self.min_confidence),
        )


class ReportSettings(BaseModel):
    """[report]: output of every command."""

    model_config = _STRICT

    format: Literal["text", "json", "sarif", "html"] = Field("text", description="Output format.")


class Settings(BaseSettings):
    """The effective configuration of mlwarden."""

    model_config = SettingsConfigDict(
        env_prefix="MLWARDEN_",
        env_nested_delimiter="__",
        extra="forbid",
        pyproject_toml_table_header=("tool", "mlwarden"),
    )

    scan: ScanSettings = Field(default_factory=ScanSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    lint: LintSettings = Field(default_factory=LintSettings)
    integrity: IntegritySettings = Field(default_factory=IntegritySettings)
    gateway: GatewayPolicy = Field(default_factory=GatewayPolicy)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)
    assess: AssessSettings = Field(default_factory=AssessSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = cls.model_config.get("toml_file") or CONFIG_FILE
        pyproject = Path(str(toml_file)).parent / "pyproject.toml"
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
            PyprojectTomlConfigSettingsSource(settings_cls, toml_file=pyproject),
        )


def _deep_clean(overrides: dict[str, Any]) -> dict[str, Any]:
    """Drop unset (None) CLI overrides so that they do not mask files and environment."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            value = _deep_clean(value)
            if value:
                out[key] = value
        elif value is not None and value != ():
            out[key] = list(value) if isinstance(value, tuple) else value
    return out


def load_settings(
    config_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Load the effective settings.

    Args:
        config_file: an explicit ``mlwarden.toml``; by default ``./mlwarden.toml`` and
            ``[tool.mlwarden]`` in ``./pyproject.toml`` are read when present.
        overrides: nested values from CLI flags, e.g. ``{"scan": {"fail_on": "high"}}``;
            ``None`` values are ignored.

    Raises:
        ConfigError: a file is unreadable or a value is invalid (the message names it).
    """
    path = Path(config_file) if config_file is not None else Path(CONFIG_FILE)
    if config_file is not None and not path.is_file():
        raise ConfigError(f"config file not found: {path}")

    class _FromFile(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})

    try:
        return _FromFile(**_deep_clean(overrides or {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read configuration: {exc}") from None


def redacted(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret replaced by asterisks."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    return data


def default_config_text() -> str:
    """A commented ``mlwarden.toml`` listing every setting with its default."""
    lines = [
        "# mlwarden configuration. Precedence: CLI > MLWARDEN_* env > this file >",
        "# [tool.mlwarden] in pyproject.toml > defaults. Uncomment to change a value.",
        "",
    ]
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            lines += _section_lines(section, model)
    return "\n".join(lines)


def _section_lines(name: str, model: type[BaseModel]) -> list[str]:
    """The commented table ``[name]`` of ``model``, nested models as their own tables."""
    lines, nested = [f"[{name}]"], []
    for key, info in model.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            nested.append((f"{name}.{key}", sub))
            continue
        default = info.get_default(call_default_factory=True)
        if info.description:
            lines.append(f"# {info.description}")
        lines.append(f"# {key} = {_toml_value(default)}")
    lines.append("")
    for sub_name, sub_model in nested:
        lines += _section_lines(sub_name, sub_model)
    return lines


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Severity):
        return f'"{value.value}"'
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Enum):
        return _toml_value(value.value)
    if value is None:
        return '""  # unset'
    if hasattr(value, "get_secret_value"):
        return '""  # secret: prefer the MLWARDEN_* environment variable'
    return str(value)
