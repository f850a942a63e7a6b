"""Signatures carried inside a JSON document (data manifests, drift profiles).

The document's canonical bytes, without the signature, are signed as a DSSE
pre-authentication encoding (payload type + payload), so that a signature made for one
kind of document cannot be replayed as another. The signature is a small mapping stored in
the document itself: payload type, key kind, a hint of the key, and the base64 signature.
Verification raises; it never returns False.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mlwarden.integrity.bundle import pae
from mlwarden.integrity.errors import Problem, SignatureError

if TYPE_CHECKING:
    from mlwarden.integrity.keys import SigningKey, VerifyingKey


def sign_detached(payload_type: str, payload: bytes, key: SigningKey) -> dict[str, str]:
    """The signature mapping of ``payload`` by ``key``."""
    sig = key.sign(pae(payload_type, payload))
    return {
        "payload_type": payload_type,
        "key_kind": key.kind,
        "key_hint": key.public.hint,
        "sig": base64.b64encode(sig).decode("ascii"),
    }


def verify_detached(
    signature: Mapping[str, str] | None,
    payload_type: str,
    payload: bytes,
    key: VerifyingKey,
    *,
    rule_id: str,
    what: str,
) -> None:
    """Raise :class:`SignatureError` (reported as ``rule_id``) unless ``key`` signed it.

    Args:
        signature: the document's signature mapping, or ``None`` when unsigned.
        payload_type, payload: what was signed (the document's canonical bytes).
        key: the public key the document must be signed with.
        rule_id: the rule a failure is reported as; ``what``: the document, for messages.
    """
    sig = (signature or {}).get("sig")
    if not sig:
        raise SignatureError([Problem(rule_id, f"the {what} is not signed")])
    try:
        raw = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not key.verify(raw, pae(payload_type, payload)):
        raise SignatureError(
            [Problem(rule_id, f"the {what}'s signature does not verify with this key")]
        )
