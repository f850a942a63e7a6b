"""API keys: created once and shown once, stored hashed, checked in constant time, with scopes.

A key reads ``mlw_<id>_<secret>``: the id finds the record (it is not secret: it names the key
in the audit log and metrics), the 256-bit secret is compared as a SHA-256 digest with
:func:`hmac.compare_digest`. A random 256-bit secret needs no salt or slow hash: it cannot be
guessed from its digest. The store is one JSON file (mode 0600, replaced atomically), re-read
when it changes, so ``mlwarden keys revoke`` takes effect in running workers within a second.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlwarden.errors import InputError
from mlwarden.gateway.errors import GatewayRefusal

#: What a key may do: ``predict`` (inference and model metadata), ``metrics``, ``admin``.
SCOPES = frozenset({"predict", "metrics", "admin"})
_PREFIX = "mlw_"
_RELOAD_SECONDS = 1.0
_DUMMY = hashlib.sha256(b"mlwarden-no-such-key").hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """One key's record (the secret itself is never stored).

    Attributes:
        id: public identifier (in the key, the audit log and metrics).
        name: a label for people.
        hash: hex SHA-256 of the secret part.
        scopes: what the key may do.
        rate_limit: this key's request rate (``"100/minute"``), or ``None`` for the policy's.
        quota: instances this key may send per period (``"10000/day"``), or ``None``.
        created: ISO time of creation; ``revoked``: ISO time of revocation, or ``None``.
    """

    id: str
    name: str
    hash: str
    scopes: tuple[str, ...] = ("predict",)
    rate_limit: str | None = None
    quota: str | None = None
    created: str = ""
    revoked: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["scopes"] = list(self.scopes)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApiKey:
        try:
            return cls(
                id=str(data["id"]),
                name=str(data.get("name", "")),
                hash=str(data["hash"]),
                scopes=tuple(str(s) for s in data.get("scopes", ("predict",))),
                rate_limit=data.get("rate_limit"),
                quota=data.get("quota"),
                created=str(data.get("created", "")),
                revoked=data.get("revoked"),
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"invalid API key record: {exc}") from None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    if not token.startswith(_PREFIX):
        return None
    key_id, sep, secret = token[len(_PREFIX) :].partition("_")
    return (key_id, secret) if sep and key_id and secret else None


@dataclass
class KeyStore:
    """The hashed API keys of one gateway (a JSON file).

    Args:
        path: the store file (created by :meth:`create` when absent).
    """

    path: Path
    _keys: dict[str, ApiKey] = field(default_factory=dict)
    _mtime: float = -1.0
    _checked: float = 0.0

    @classmethod
    def open(cls, path: str | Path) -> KeyStore:
        """Open (and read) a store; a missing file is an empty store."""
        store = cls(Path(path))
        store.reload(force=True)
        return store

    def reload(self, *, force: bool = False) -> None:
        """Re-read the file if it changed (checked at most once a second unless forced)."""
        now = time.monotonic()
        if not force and now - self._checked < _RELOAD_SECONDS:
            return
        self._checked = now
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._keys, self._mtime = {}, -1.0
            return
        if mtime != self._mtime or force:
            self._keys = {k.id: k for k in self._read()}
            self._mtime = mtime

    def _read(self) -> list[ApiKey]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the API key store {self.path}: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise InputError(f"{self.path} is not an mlwarden API key store")
        return [ApiKey.from_dict(k) for k in data["keys"]]

    def _write(self) -> None:
        body = {"version": 1, "keys": [k.to_dict() for k in self._keys.values()]}
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, indent=2)
        tmp.replace(self.path)
        self.reload(force=True)

    def keys(self) -> list[ApiKey]:
        """Every key record, revoked ones included."""
        self.reload()
        return list(self._keys.values())

    def create(
        self,
        name: str,
        scopes: tuple[str, ...] = ("predict",),
        *,
        rate_limit: str | None = None,
        quota: str | None = None,
    ) -> tuple[str, ApiKey]:
        """Add a key; return the full key (shown once, never stored) and its record."""
        unknown = set(scopes) - SCOPES
        if unknown or not scopes:
            raise InputError(f"unknown scope(s) {sorted(unknown)}; choose from {sorted(SCOPES)}")
        self.reload(force=True)
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        record = ApiKey(
            key_id,
            name,
            _digest(secret),
            tuple(scopes),
            rate_limit,
            quota,
            datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )
        self._keys[key_id] = record
        self._write()
        return f"{_PREFIX}{key_id}_{secret}", record

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by id (the record stays, so the audit log can still name it)."""
        self.reload(force=True)
        record = self._keys.get(key_id)
        if record is None:
            raise InputError(f"no API key with id {key_id!r}")
        when = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._keys[key_id] = replace(record, revoked=record.revoked or when)
        self._write()
        return self._keys[key_id]

    def authenticate(self, token: str | None, scope: str) -> ApiKey:
        """The key ``token`` names, if it is valid, live and has ``scope``.

        Raises:
            GatewayRefusal: 401 for a missing, malformed, wrong or revoked key; 403 for a key
                without ``scope``.
        """
        self.reload()
        parts = _split(token or "")
        record = self._keys.get(parts[0]) if parts else None
        expected = record.hash if record is not None else _DUMMY
        # Compare even when the id is unknown, so that timing tells nothing either way.
        match = hmac.compare_digest(_digest(parts[1] if parts else ""), expected)
        if record is None or not match or record.revoked:
            raise GatewayRefusal(
                401,
                "unauthorized",
                "a valid API key is required" if token else "missing API key",
                headers={"WWW-Authenticate": 'Bearer realm="mlwarden"'},
            )
        if scope not in record.scopes:
            raise GatewayRefusal(403, "forbidden", f"this API key lacks the {scope!r} scope")
        return record


def token_from_headers(headers: dict[str, str], header: str) -> str | None:
    """The key carried by ``header`` (``Authorization: Bearer KEY``, or the raw value)."""
    value = headers.get(header.lower())
    if value is None:
        return None
    if header.lower() == "authorization":
        scheme, _, rest = value.partition(" ")
        return rest.strip() if scheme.lower() == "bearer" else None
    return value.strip()
