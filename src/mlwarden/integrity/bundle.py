"""Sigstore bundle v0.3 with a DSSE envelope over an in-toto Statement (OpenSSF model-signing).

Encoding: the statement (subject = model name + SHA-256 root digest, predicate type
``https://model_signing/signature/v1.0``, predicate = serialization + resources) is the DSSE
payload; the signature covers DSSE's pre-authentication encoding (PAE) of it. Decoding
checks every field it relies on and raises :class:`BundleError` (malformed, wrong predicate,
unsafe names) or :class:`SignatureError` (wrong key, bad signature): never returns ``False``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from typing import Any

from mlwarden.integrity.errors import BundleError, Problem, SignatureError
from mlwarden.integrity.keys import SigningKey, VerifyingKey
from mlwarden.integrity.manifest import (
    HASH_SIZES,
    SHARDS,
    SINGLE_FILE,
    Item,
    Manifest,
    Serialization,
    check_name,
)

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
MAX_BUNDLE_BYTES = 512 * 1024 * 1024
_MAX_SIGNATURES = 16


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature is computed over."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def statement(manifest: Manifest) -> bytes:
    """The in-toto Statement of a manifest, as the DSSE payload bytes."""
    resources = [
        {
            "name": i.key,
            "algorithm": manifest.serialization.item_algorithm,
            "digest": i.digest.hex(),
        }
        for i in manifest.items
    ]
    doc = {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": manifest.model_name, "digest": {"sha256": manifest.root_digest().hex()}}
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": {"serialization": manifest.serialization.to_json(), "resources": resources},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")


def encode(manifest: Manifest, key: SigningKey) -> str:
    """Sign a manifest; returns the bundle as JSON text."""
    payload = statement(manifest)
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": key.public.hint}, "tlogEntries": []},
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode("ascii"),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(signature).decode("ascii"), "keyid": ""}],
        },
    }
    return json.dumps(bundle, separators=(",", ":"))


@dataclass(frozen=True)
class Envelope:
    """The parts of a bundle that verification uses (not yet verified)."""

    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]
    key_hint: str | None


def _malformed(message: str) -> BundleError:
    return BundleError([Problem("INT-VER-005", f"malformed signature bundle: {message}")])


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise _malformed(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed(f"{what} is not valid base64") from None


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _malformed(f"{what} is missing or not an object")
    return value


def parse(data: bytes) -> Envelope:
    """Parse bundle JSON into an :class:`Envelope`; raises :class:`BundleError`."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise _malformed("larger than 512 MiB")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _malformed("not JSON") from None
    doc = _object(doc, "the bundle")
    if doc.get("mediaType") != BUNDLE_MEDIA_TYPE:
        raise _malformed(
            f"media type {str(doc.get('mediaType'))[:80]!r}, expected {BUNDLE_MEDIA_TYPE}"
        )
    material = _object(doc.get("verificationMaterial"), "verificationMaterial")
    hint = _object(material.get("publicKey", {}), "publicKey").get("hint")
    if hint is not None and not isinstance(hint, str):
        raise _malformed("publicKey.hint is not a string")
    envelope = _object(doc.get("dsseEnvelope"), "dsseEnvelope (is this a key-based bundle?)")
    sigs = envelope.get("signatures")
    if not isinstance(sigs, list) or not sigs or len(sigs) > _MAX_SIGNATURES:
        raise _malformed("dsseEnvelope.signatures must hold 1 to 16 signatures")
    payload_type = envelope.get("payloadType")
    if not isinstance(payload_type, str):
        raise _malformed("dsseEnvelope.payloadType is missing")
    return Envelope(
        payload_type,
        _b64(envelope.get("payload"), "dsseEnvelope.payload"),
        tuple(_b64(_object(s, "a signature").get("sig"), "a signature") for s in sigs),
        hint or None,
    )


def verify_envelope(envelope: Envelope, key: VerifyingKey) -> bytes:
    """Check the envelope's signature with ``key``; returns the verified payload.

    Raises:
        SignatureError: the key hint names another key, or no signature verifies.
        BundleError: the payload type is not in-toto JSON.
    """
    if envelope.key_hint is not None and not hmac.compare_digest(envelope.key_hint, key.hint):
        raise SignatureError(
            [
                Problem(
                    "INT-VER-004",
                    f"signed by another key: the bundle names key {envelope.key_hint[:16]}..., "
                    f"the given public key is {key.hint[:16]}...",
                    expected=envelope.key_hint,
                    actual=key.hint,
                )
            ]
        )
    signed = pae(envelope.payload_type, envelope.payload)
    if not any(key.verify(sig, signed) for sig in envelope.signatures):
        raise SignatureError(
            [
                Problem(
                    "INT-VER-004",
                    f"the signature does not verify with the given {key.kind} key "
                    "(the bundle was altered, or signed by another key)",
                )
            ]
        )
    if envelope.payload_type != PAYLOAD_TYPE:
        raise BundleError(
            [
                Problem(
                    "INT-VER-006",
                    f"payload type {envelope.payload_type[:80]!r}, expected {PAYLOAD_TYPE}",
                )
            ]
        )
    return envelope.payload


def _predicate(message: str) -> BundleError:
    return BundleError([Problem("INT-VER-006", message)])


def parse_statement(payload: bytes) -> Manifest:
    """The manifest in a verified statement; checks the predicate and every resource.

    Raises:
        BundleError: not a v1.0 model-signing statement (INT-VER-006), inconsistent root
            digest or malformed resources (INT-VER-005), unsafe names (INT-VER-007).
    """
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _malformed("the signed payload is not JSON") from None
    doc = _object(doc, "the statement")
    if doc.get("_type") != STATEMENT_TYPE:
        raise _predicate(
            f"statement type {str(doc.get('_type'))[:80]!r}, expected {STATEMENT_TYPE}"
        )
    if doc.get("predicateType") != PREDICATE_TYPE:
        raise _predicate(
            f"predicate type {str(doc.get('predicateType'))[:80]!r}, expected {PREDICATE_TYPE}"
        )
    subject = doc.get("subject")
    if not isinstance(subject, list) or len(subject) != 1:
        raise _malformed("the statement must have exactly one subject")
    subj = _object(subject[0], "subject")
    root = _object(subj.get("digest"), "subject.digest").get("sha256")
    predicate = _object(doc.get("predicate"), "predicate")
    try:
        serialization = Serialization.from_json(predicate.get("serialization"))
    except ValueError as exc:
        raise _predicate(f"unsupported serialization: {exc}") from None
    items = _resources(predicate.get("resources"), serialization)
    try:
        manifest = Manifest.build(str(subj.get("name", "")), serialization, items)
    except ValueError as exc:
        raise _malformed(str(exc)) from None
    _check_root(manifest, items, root)
    return manifest


def _check_root(manifest: Manifest, listed: list[Item], root: object) -> None:
    import hashlib

    hasher = hashlib.sha256()
    for item in listed:  # in the order the statement lists them
        hasher.update(item.digest)
    if not isinstance(root, str) or not hmac.compare_digest(root.lower(), hasher.hexdigest()):
        raise _malformed("the subject digest does not match the listed resources")
    _check_shards(manifest)


def _resources(resources: object, serialization: Serialization) -> list[Item]:
    if not isinstance(resources, list):
        raise _malformed("predicate.resources is not a list")
    size, algorithm = HASH_SIZES[serialization.hash_type], serialization.item_algorithm
    items = [_resource(r, serialization, size, algorithm) for r in resources]
    names = {i.name for i in items}
    if SINGLE_FILE in names and len(names) > 1:
        raise _unsafe(SINGLE_FILE, "names a single-file model but other files are listed")
    return items


def _resource(res: object, ser: Serialization, size: int, algorithm: str) -> Item:
    r = _object(res, "a resource")
    name, algo, digest = r.get("name"), r.get("algorithm"), r.get("digest")
    if not isinstance(name, str) or not isinstance(digest, str):
        raise _malformed("a resource lacks a name or digest")
    if algo != algorithm:
        raise _predicate(f"resource {name[:80]!r} uses {str(algo)[:40]!r}, expected {algorithm}")
    start = end = None
    if ser.method == SHARDS:
        name, start, end = _shard_key(name)
    problem = check_name(name)
    if problem:
        raise _unsafe(name, problem)
    try:
        value = bytes.fromhex(digest)
    except ValueError:
        raise _malformed(f"digest of {name[:80]!r} is not hexadecimal") from None
    if len(value) != size:
        raise _malformed(f"digest of {name[:80]!r} is not a {ser.hash_type} digest")
    return Item(name, value, start, end)


def _shard_key(key: str) -> tuple[str, int, int]:
    parts = key.rsplit(":", 2)
    if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
        raise _malformed(f"shard resource {key[:80]!r} is not 'path:start:end'")
    start, end = int(parts[1]), int(parts[2])
    if end <= start:
        raise _malformed(f"shard resource {key[:80]!r} is empty or reversed")
    return parts[0], start, end


def _check_shards(manifest: Manifest) -> None:
    """Shards of each file must tile it from 0 in ``shard_size`` steps (as signers cut them)."""
    size = manifest.serialization.shard_size
    if manifest.serialization.method != SHARDS:
        return
    for name, items in manifest.by_file().items():
        offset = 0
        for i, item in enumerate(items):
            last = i == len(items) - 1
            if (
                item.start != offset
                or (not last and item.end != offset + size)
                or (item.end is not None and item.end - offset > size)
            ):
                raise _malformed(f"shards of {name[:80]!r} do not tile the file")
            offset = item.end or 0


def _unsafe(name: str, problem: str) -> BundleError:
    shown = name[:120]
    return BundleError(
        [Problem("INT-VER-007", f"unsafe file name in the manifest: {shown!r} {problem}", shown)]
    )


def sign_manifest(manifest: Manifest, key: SigningKey) -> str:
    """Alias of :func:`encode`: the bundle JSON for ``manifest`` signed with ``key``."""
    return encode(manifest, key)


def read_signed_manifest(data: bytes, key: VerifyingKey) -> Manifest:
    """Parse a bundle, verify its signature with ``key``, and return the signed manifest."""
    return parse_statement(verify_envelope(parse(data), key))
