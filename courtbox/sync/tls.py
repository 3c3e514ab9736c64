"""The box's TLS certificate: the API, the pages and the sync pull speak HTTPS with it.

Each box makes its own on first start, beside its signing key in ``<data_dir>/identity/``:
an ECDSA P-256 key (``tls.key``, 0600) and a self-signed certificate (``tls.crt``). ECDSA,
not Ed25519, because browsers refuse Ed25519 certificates. The certificate names the box
(``courtbox-<id>.local``, localhost) and never expires (RFC 5280's 99991231235959Z): the
box runs for years with nobody to renew it, and what makes it trusted is the pin, not a
date. A court with its own certificate authority configures ``api.tls_cert`` and
``api.tls_key`` instead, so that the bench's browsers trust the box without a warning.

Either way the box signs the certificate's sha256 with its Ed25519 identity key (the
statement is ``chain.certificate_statement``) and serves certificate and signature at
``/api/v1/sync/identity`` (``vouch``). The collector checks that signature against the key
it pinned and then trusts that one certificate alone (``courtbox.central.pinning``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from courtbox.errors import TlsError
from courtbox.record.chain import certificate_sha256, certificate_statement
from courtbox.record.identity import IDENTITY_DIR, Identity, write_private

CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
NEVER = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
# Before any box was made: a box whose clock has not been set yet still makes a certificate
# that is valid today.
SINCE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Certificate:
    """The certificate the API serves, and where its files are."""

    cert_path: Path
    key_path: Path
    pem: bytes

    @property
    def sha256(self) -> str:
        return certificate_sha256(self.pem)

    @property
    def spki_sha256(self) -> str:
        """Base64 sha256 of the public key, as Chromium's
        ``--ignore-certificate-errors-spki-list`` and HPKP write it."""
        return spki_sha256(self.pem)


def spki_sha256(pem: bytes) -> str:
    spki = x509.load_pem_x509_certificate(pem).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def box_certificate(data_dir: Path | str, box_id: str) -> Certificate:
    """The box's own certificate, made (key and self-signed certificate) on first use."""
    folder = Path(data_dir) / IDENTITY_DIR
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    if not key_path.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _self_signed(key, box_id)
        try:
            write_private(key_path, key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
            write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        except FileExistsError:
            pass  # another process made it first: use theirs
    return load_certificate(cert_path, key_path)


def api_certificate(api, data_dir: Path | str, box_id: str) -> Certificate | None:
    """The certificate the API serves under ``api`` (the config's ``[api]``): None with
    ``tls = false``, the court's when ``tls_cert`` is set (``TlsError`` when it cannot be
    used), else the box's own."""
    if not api.tls:
        return None
    if api.tls_cert:
        return load_certificate(api.tls_cert, api.tls_key)
    return box_certificate(data_dir, box_id)


def _self_signed(key: ec.EllipticCurvePrivateKey, box_id: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"courtbox-{box_id[:12]}"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "courtbox")])
    now = dt.datetime.now(dt.UTC)
    sans = [x509.DNSName(f"courtbox-{box_id[:12]}.local"), x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(now, SINCE) - dt.timedelta(days=1))
            .not_valid_after(NEVER)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                         content_commitment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA256()))


def load_certificate(cert_path: Path | str, key_path: Path | str) -> Certificate:
    """A certificate and its key, checked to belong together (``TlsError`` naming the
    file otherwise)."""
    cert_path, key_path = Path(cert_path), Path(key_path)
    try:
        pem = cert_path.read_bytes()
        cert = x509.load_pem_x509_certificate(pem)
    except (OSError, ValueError) as e:
        raise TlsError(f"cannot read the TLS certificate {cert_path}: {e}") from e
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise TlsError(f"cannot read the TLS key {key_path}: {e}") from e
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if (key.public_key().public_bytes(serialization.Encoding.DER, spki)
            != cert.public_key().public_bytes(serialization.Encoding.DER, spki)):
        raise TlsError(f"the TLS key {key_path} is not the key of {cert_path}")
    return Certificate(cert_path, key_path, pem)


# -- the box vouches for its certificate (the centre checks it: courtbox.central.pinning) --

def vouch(identity: Identity, cert: Certificate) -> dict:
    """The ``tls`` part of the box's identity document."""
    return {"certificate": cert.pem.decode("ascii"), "sha256": cert.sha256,
            "spki_sha256": cert.spki_sha256,
            "signature": identity.sign_text(certificate_statement(cert.sha256))}
