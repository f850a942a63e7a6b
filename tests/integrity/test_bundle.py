"""Bundle encode/decode: DSSE PAE, statement checks, and every malformed-bundle refusal."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from mlwarden.integrity import bundle
from mlwarden.integrity.errors import BundleError, SignatureError, VerificationError
from mlwarden.integrity.keys import SigningKey, generate_key
from mlwarden.integrity.manifest import Item, Manifest, Serialization

KEY = generate_key("ecdsa-p256")
OTHER = generate_key("ecdsa-p256")


def manifest(method: str = "files") -> Manifest:
    ser = Serialization(method, "sha256", 4 if method == "shards" else 0)
    if method == "shards":
        items = [
            Item("w.bin", hashlib.sha256(b"abcd").digest(), 0, 4),
            Item("w.bin", hashlib.sha256(b"ef").digest(), 4, 6),
        ]
    else:
        items = [
            Item("b/c.txt", hashlib.sha256(b"c").digest()),
            Item("a.txt", hashlib.sha256(b"a").digest()),
        ]
    return Manifest.build("demo", ser, items)


def reencode(statement: dict[str, Any], key: SigningKey = KEY) -> bytes:
    """A validly signed bundle around an arbitrary statement (an attacker with a key)."""
    payload = json.dumps(statement).encode()
    sig = key.sign(bundle.pae(bundle.PAYLOAD_TYPE, payload))
    return json.dumps(
        {
            "mediaType": bundle.BUNDLE_MEDIA_TYPE,
            "verificationMaterial": {"publicKey": {"hint": key.public.hint}, "tlogEntries": []},
            "dsseEnvelope": {
                "payload": base64.b64encode(payload).decode(),
                "payloadType": bundle.PAYLOAD_TYPE,
                "signatures": [{"sig": base64.b64encode(sig).decode(), "keyid": ""}],
            },
        }
    ).encode()


def good_statement(method: str = "files") -> dict[str, Any]:
    return json.loads(bundle.statement(manifest(method)))


def test_pae_is_dsse_v1() -> None:
    assert bundle.pae("t/x", b"hello") == b"DSSEv1 3 t/x 5 hello"
    assert bundle.pae("application/vnd.in-toto+json", b"{}").startswith(b"DSSEv1 28 ")


@pytest.mark.parametrize("method", ["files", "shards"])
def test_round_trip(method: str) -> None:
    m = manifest(method)
    back = bundle.read_signed_manifest(bundle.encode(m, KEY).encode(), KEY.public)
    assert back == m and back.serialization == m.serialization
    assert back.root_digest() == m.root_digest()


def test_statement_shape_is_model_signing_v1() -> None:
    doc = good_statement()
    assert doc["_type"] == "https://in-toto.io/Statement/v1"
    assert doc["predicateType"] == "https://model_signing/signature/v1.0"
    assert [r["name"] for r in doc["predicate"]["resources"]] == ["a.txt", "b/c.txt"]
    root = hashlib.sha256(
        b"".join(bytes.fromhex(r["digest"]) for r in doc["predicate"]["resources"])
    ).hexdigest()
    assert doc["subject"] == [{"name": "demo", "digest": {"sha256": root}}]
    assert doc["predicate"]["serialization"] == {
        "method": "files",
        "hash_type": "sha256",
        "allow_symlinks": False,
    }


@pytest.mark.parametrize("kind", ["ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519"])
def test_key_types(kind: str) -> None:
    key = generate_key(kind)
    m = manifest()
    assert bundle.read_signed_manifest(bundle.encode(m, key).encode(), key.public) == m
    with pytest.raises(SignatureError):
        bundle.read_signed_manifest(bundle.encode(m, key).encode(), generate_key(kind).public)


def test_wrong_key_is_named_by_the_hint() -> None:
    data = bundle.encode(manifest(), KEY).encode()
    with pytest.raises(SignatureError, match="signed by another key") as info:
        bundle.read_signed_manifest(data, OTHER.public)
    assert info.value.problems[0].rule_id == "INT-VER-004"


def test_wrong_key_without_hint_fails_on_the_signature() -> None:
    doc = json.loads(bundle.encode(manifest(), KEY))
    del doc["verificationMaterial"]["publicKey"]
    with pytest.raises(SignatureError, match="does not verify"):
        bundle.read_signed_manifest(json.dumps(doc).encode(), OTHER.public)
    # The right key still verifies a bundle that has no hint (older model_signing bundles).
    assert bundle.read_signed_manifest(json.dumps(doc).encode(), KEY.public) == manifest()


def test_tampered_payload_fails_the_signature() -> None:
    doc = json.loads(bundle.encode(manifest(), KEY))
    statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    statement["predicate"]["resources"][0]["digest"] = "00" * 32
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(SignatureError):
        bundle.read_signed_manifest(json.dumps(doc).encode(), KEY.public)


def test_one_of_several_signatures_may_verify() -> None:
    doc = json.loads(bundle.encode(manifest(), KEY))
    good = doc["dsseEnvelope"]["signatures"][0]
    doc["dsseEnvelope"]["signatures"] = [{"sig": base64.b64encode(b"junk").decode()}, good]
    assert bundle.read_signed_manifest(json.dumps(doc).encode(), KEY.public) == manifest()


Mutation = Callable[[dict[str, Any]], object]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d.update(mediaType="application/vnd.dev.sigstore.bundle+json;version=0.1"),
            "media type",
        ),
        (lambda d: d.pop("dsseEnvelope"), "dsseEnvelope"),
        (lambda d: d["dsseEnvelope"].update(payload="***"), "not valid base64"),
        (lambda d: d["dsseEnvelope"].update(signatures=[]), "1 to 16 signatures"),
        (lambda d: d["dsseEnvelope"].update(signatures=[{"sig": 5}]), "not a base64 string"),
        (lambda d: d.update(verificationMaterial=[]), "verificationMaterial"),
        (lambda d: d["dsseEnvelope"].pop("payloadType"), "payloadType"),
    ],
)
def test_malformed_bundles(mutate: Mutation, message: str) -> None:
    doc = json.loads(bundle.encode(manifest(), KEY))
    mutate(doc)
    with pytest.raises(BundleError, match=message) as info:
        bundle.read_signed_manifest(json.dumps(doc).encode(), KEY.public)
    assert info.value.problems[0].rule_id == "INT-VER-005"


@pytest.mark.parametrize("data", [b"", b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 100_000])
def test_not_a_bundle(data: bytes) -> None:
    with pytest.raises(BundleError, match="malformed"):
        bundle.read_signed_manifest(data, KEY.public)


def test_signed_non_intoto_payload_is_wrong_predicate() -> None:
    payload = b'{"hello": 1}'
    sig = KEY.sign(bundle.pae("text/plain", payload))
    doc = json.loads(bundle.encode(manifest(), KEY))
    doc["dsseEnvelope"].update(
        payloadType="text/plain",
        payload=base64.b64encode(payload).decode(),
        signatures=[{"sig": base64.b64encode(sig).decode()}],
    )
    with pytest.raises(BundleError) as info:
        bundle.read_signed_manifest(json.dumps(doc).encode(), KEY.public)
    assert info.value.problems[0].rule_id == "INT-VER-006"


STATEMENT_CASES: list[tuple[Mutation, str, str]] = [
    (
        lambda s: s.update(predicateType="https://model_signing/Digests/v0.1"),
        "INT-VER-006",
        "predicate type",
    ),
    (
        lambda s: s.update(predicateType="https://slsa.dev/provenance/v1"),
        "INT-VER-006",
        "predicate type",
    ),
    (
        lambda s: s.update(_type="https://in-toto.io/Statement/v0.1"),
        "INT-VER-006",
        "statement type",
    ),
    (
        lambda s: s["predicate"]["serialization"].update(method="tensors"),
        "INT-VER-006",
        "serialization",
    ),
    (
        lambda s: s["predicate"]["serialization"].update(hash_type="md5"),
        "INT-VER-006",
        "serialization",
    ),
    (
        lambda s: s["predicate"]["resources"][0].update(algorithm="blake3"),
        "INT-VER-006",
        "expected sha256",
    ),
    (lambda s: s["subject"][0]["digest"].update(sha256="00" * 32), "INT-VER-005", "subject digest"),
    (lambda s: s["subject"].append(s["subject"][0]), "INT-VER-005", "exactly one subject"),
    (lambda s: s["predicate"]["resources"][0].update(digest="zz"), "INT-VER-005", "hexadecimal"),
    (
        lambda s: s["predicate"]["resources"][0].update(digest="00"),
        "INT-VER-005",
        "not a sha256 digest",
    ),
    (lambda s: s["predicate"].update(resources={}), "INT-VER-005", "not a list"),
]


def _fix_root(s: dict[str, Any]) -> None:
    digests = b"".join(
        bytes.fromhex(r["digest"])
        for r in s["predicate"]["resources"]
        if isinstance(r, dict) and len(r.get("digest", "")) == 64
    )
    s["subject"][0]["digest"]["sha256"] = hashlib.sha256(digests).hexdigest()


@pytest.mark.parametrize(("mutate", "rule", "message"), STATEMENT_CASES)
def test_bad_statements_signed_by_the_right_key(mutate: Mutation, rule: str, message: str) -> None:
    statement = good_statement()
    mutate(statement)
    with pytest.raises(BundleError, match=message) as info:
        bundle.read_signed_manifest(reencode(statement), KEY.public)
    assert info.value.problems[0].rule_id == rule


@pytest.mark.parametrize(
    "name", ["../etc/passwd", "/etc/passwd", "a/../../b", "a//b", "./a", "a/.", "", "nul\x00"]
)
def test_path_traversal_in_a_manifest_is_refused(name: str) -> None:
    statement = good_statement()
    statement["predicate"]["resources"][0]["name"] = name
    _fix_root(statement)
    with pytest.raises(BundleError) as info:
        bundle.read_signed_manifest(reencode(statement), KEY.public)
    assert info.value.problems[0].rule_id == "INT-VER-007"


def test_duplicate_resources_and_dot_with_others_are_refused() -> None:
    statement = good_statement()
    resources = statement["predicate"]["resources"]
    resources.append(copy.deepcopy(resources[0]))
    _fix_root(statement)
    with pytest.raises(BundleError, match="duplicate"):
        bundle.read_signed_manifest(reencode(statement), KEY.public)
    statement = good_statement()
    statement["predicate"]["resources"][0]["name"] = "."
    with pytest.raises(BundleError, match="single-file"):
        bundle.read_signed_manifest(reencode(statement), KEY.public)


def test_shards_must_tile_each_file() -> None:
    statement = good_statement("shards")
    statement["predicate"]["resources"][1]["name"] = "w.bin:5:6"
    with pytest.raises(BundleError, match="do not tile"):
        bundle.read_signed_manifest(reencode(statement), KEY.public)
    statement = good_statement("shards")
    statement["predicate"]["resources"][1]["name"] = "w.bin:4"
    with pytest.raises(BundleError, match="path:start:end"):
        bundle.read_signed_manifest(reencode(statement), KEY.public)


def test_float_shard_size_from_model_signing_is_accepted() -> None:
    statement = good_statement("shards")
    statement["predicate"]["serialization"]["shard_size"] = 4.0
    m = bundle.read_signed_manifest(reencode(statement), KEY.public)
    assert m.serialization.shard_size == 4
    statement["predicate"]["serialization"]["shard_size"] = 4.5
    with pytest.raises(BundleError, match="positive integer"):
        bundle.read_signed_manifest(reencode(statement), KEY.public)


def test_unknown_predicate_fields_are_ignored_as_v1_requires() -> None:
    statement = good_statement()
    statement["predicate"]["model_card"] = {"x": 1}
    statement["predicate"]["resources"][0]["size"] = 1
    assert bundle.read_signed_manifest(reencode(statement), KEY.public) == manifest()


def test_every_failure_is_a_verification_error() -> None:
    for cls in (BundleError, SignatureError):
        assert issubclass(cls, VerificationError)
