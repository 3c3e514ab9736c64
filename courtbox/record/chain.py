"""The chain rules: what makes the box's record evidence, written once for the box that
writes it, for ``courtbox verify`` and for the court's centre that checks it.

- **Records.** A record is serialised as canonical JSON (``canonical_json``: sorted keys, no
  spaces, UTF-8 as is) inside its outbox entry's body (``entry_body``); the entry's sha256
  is the sha256 of that body (``sha256_text``), and its ``prev_sha256`` is the sha256 of the
  entry before it of the same hearing (``None`` for the first one): ``linked``.
- **Audio.** An archived segment's sha256 is that of its file's bytes (``file_sha256``);
  its ``prev_sha256`` is the previous segment's of the hearing (``linked`` again).
- **Signatures.** The box's identity key signs the entry's sha256, as ASCII text
  (``entry_statement``); the signature travels base64-encoded with the algorithm's name.
  The same key vouches for the box's TLS certificate by signing
  ``courtbox-tls-certificate:<sha256 of its DER>`` (``certificate_statement``).
  ``signature_valid`` checks one; ``check_entry`` checks a whole entry.
- **Durability.** ``fsync_dir`` after every rename that makes a file part of the record.

Nothing here reads the box's database or holds a private key.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from courtbox.hardware.disk import file_sha256, fsync_dir

__all__ = ["ChainBroken", "EntrySigner", "canonical_json", "certificate_sha256",
           "certificate_statement", "check_entry", "decode_signature", "entry_body",
           "entry_statement", "file_sha256", "fingerprint", "fsync_dir", "linked",
           "sha256_text", "signature_valid", "utc_now"]


class ChainBroken(Exception):
    """A record, link or signature that does not check out; the text says which."""


class EntrySigner(Protocol):
    """What signs outbox entries (the box's identity): base64 of the signature of
    ``text`` (ASCII)."""

    def sign_text(self, text: str) -> str: ...


# -- records and their hashes ---------------------------------------------------------------

def utc_now() -> str:
    """A record's time: UTC, milliseconds, ``Z`` (``2026-03-01T09:30:00.000Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")



def canonical_json(obj: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_body(kind: str, record_id: str, prev_sha256: str | None, record: dict) -> str:
    """The body of an outbox entry: the record with what it is and what it follows."""
    return canonical_json({"kind": kind, "id": record_id, "prev_sha256": prev_sha256,
                           "record": record})


def linked(prev_sha256: str | None, head: str | None) -> bool:
    """Whether an entry (or audio segment) whose ``prev_sha256`` is given follows ``head``,
    the sha256 of the one before it of the same hearing (None: it is the first)."""
    return prev_sha256 == head


# -- signatures -----------------------------------------------------------------------------

def entry_statement(sha256: str) -> str:
    """What the box's key signs for an outbox entry: its sha256, which through
    ``prev_sha256`` covers everything of the hearing before it."""
    return sha256


def heads_statement(sha256: str) -> str:
    """What the box's key signs for the chain heads it sends with a heartbeat (the sha256
    of their canonical JSON): the box held this much at that moment."""
    return f"courtbox-chain-heads:{sha256}"


def certificate_statement(sha256: str) -> str:
    """What the box's key signs for its TLS certificate: this certificate is the box's."""
    return f"courtbox-tls-certificate:{sha256}"


def certificate_sha256(pem: bytes) -> str:
    """The sha256 of a PEM certificate's DER bytes (what ``certificate_statement`` names)."""
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def fingerprint(public_key: bytes) -> str:
    """As OpenSSH writes one: ``SHA256:`` and the unpadded base64 of the key's sha256."""
    digest = hashlib.sha256(public_key).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def decode_signature(signature: str | None) -> bytes:
    """The bytes of a base64 signature (none: empty); ``ValueError`` if not base64."""
    return base64.b64decode(signature or "", validate=True)


def signature_valid(algorithm: str | None, public_key: bytes, text: str,
                    signature: bytes) -> bool:
    """Whether ``signature`` is ``public_key``'s over ``text`` (ASCII), by ``algorithm``."""
    if algorithm != "ed25519":
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature,
                                                              text.encode("ascii"))
    except (InvalidSignature, ValueError):
        return False
    return True


# -- one outbox entry -----------------------------------------------------------------------

def check_entry(entry: Mapping[str, Any], *, algorithm: str | None, public_key: bytes,
                key_name: str = "the box's key") -> dict:
    """Check one outbox entry on its own: its body against its sha256, its signature by
    ``public_key``, and that its body says the same kind, id and ``prev_sha256`` as the
    entry. Returns the body, decoded; ``ChainBroken`` saying what is wrong otherwise.
    (Whether it links to the entry before it is ``linked``.)"""
    if sha256_text(entry["body"]) != entry["sha256"]:
        raise ChainBroken("body does not match its sha256 (altered)")
    try:
        signature = decode_signature(entry.get("signature"))
    except ValueError as e:
        raise ChainBroken("signature is not base64") from e
    if not signature_valid(algorithm, public_key, entry_statement(entry["sha256"]),
                           signature):
        raise ChainBroken(f"signature does not verify with {key_name}")
    doc = json.loads(entry["body"])
    if (doc.get("kind"), doc.get("id"), doc.get("prev_sha256")) != (
            entry["kind"], entry["record_id"], entry["prev_sha256"]):
        raise ChainBroken("body disagrees with its entry")
    return doc
