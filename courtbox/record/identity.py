"""The box's identity: an id and a signing key, created on first start and kept with 0600
permissions in ``<data_dir>/identity/``.

Every outbox entry's sha256 (which, through ``prev_sha256``, covers everything of its
hearing before it: the chain head at that entry) is signed when the entry is written; the
centre verifies the signature with the public key it pinned at enrolment (the rules:
``courtbox.record.chain``). The algorithm sits behind ``Signer`` and
``chain.signature_valid`` so that a court can swap Ed25519 for SM2 with SM3 (GB/T 32918)
by adding one class; entries carry the algorithm's name with the signature.

The store does not know this module: it is handed the identity as its signer
(``open_store``).
"""

from __future__ import annotations

import base64
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from courtbox.errors import CourtboxError
from courtbox.record.chain import fingerprint
from courtbox.record.store import DB_NAME, Store

IDENTITY_DIR = "identity"
KEY_FILE = "box.key"
ID_FILE = "box.id"


class IdentityError(CourtboxError):
    pass


class Signer(Protocol):
    algorithm: str

    def public_key(self) -> bytes: ...

    def sign(self, data: bytes) -> bytes: ...


class Ed25519Signer:
    algorithm = "ed25519"

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    def public_key(self) -> bytes:
        return self._key.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Identity:
    box_id: str
    signer: Signer

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.signer.public_key())

    def sign_text(self, text: str) -> str:
        return b64(self.signer.sign(text.encode("ascii")))

    def public(self) -> dict:
        return {"box_id": self.box_id, "algorithm": self.signer.algorithm,
                "public_key": b64(self.signer.public_key()),
                "fingerprint": self.fingerprint}


def write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_identity(data_dir: Path | str, *, create: bool = True) -> Identity:
    """The box's identity, created (key pair and id) if ``create`` and there is none."""
    folder = Path(data_dir) / IDENTITY_DIR
    key_path, id_path = folder / KEY_FILE, folder / ID_FILE
    if not key_path.exists():
        if not create:
            raise IdentityError(f"no box identity in {folder}: `courtbox run` creates it")
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            write_private(key_path, pem)
            write_private(id_path, uuid.uuid4().hex.encode("ascii"))
        except FileExistsError:
            pass  # another process created it first: use theirs
    mode = key_path.stat().st_mode & 0o777
    if mode & 0o077:
        raise IdentityError(f"{key_path} is readable by others (mode {mode:o}); "
                            f"chmod 600 it")
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        box_id = id_path.read_text("ascii").strip()
    except (OSError, ValueError) as e:
        raise IdentityError(f"cannot read the box identity in {folder}: {e}") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise IdentityError(f"{key_path}: not an Ed25519 key")
    return Identity(box_id, Ed25519Signer(key))


def open_store(data_dir: Path | str, **kwargs: Any) -> Store:
    """The box's database in ``data_dir``, every outbox entry written through it signed by
    the box's identity (created there on first use)."""
    kwargs.setdefault("signer", load_identity(data_dir))
    return Store(Path(data_dir) / DB_NAME, **kwargs)
