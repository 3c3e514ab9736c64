"""The box's TLS certificate: the API, the pages and the sync pull speak HTTPS with it.

Each box makes its own on first start, beside its signing key in ``<data_dir>/identity/``:
an ECDSA P-256 key (``tls.key``, 0600) and a self-signed certificate (``tls.crt``). ECDSA,
not Ed25519, because browsers refuse Ed25519 certificates. The certificate names the box
(``courtbox-<id>.local``, localhost) and is valid for ``LIFETIME`` (397 days: the CA/Browser
Forum's ceiling for a TLS server certificate, which Safari and Chrome enforce for
public roots and a court's PKI policy can take over unchanged; a longer "device
certificate" would only stretch what a stolen key is good for, and renewal costs the box
nothing). The box renews it itself, with the same key, when fewer than ``RENEW_DAYS``
remain, when it is not yet valid (a clock set after it was made) or when it is longer
than ``LIFETIME`` (a box's certificate from before this version, valid until 9999):
at start (``box_certificate``) and in the agent's housekeeping (``renew_if_due``), which
hands the new one to the running server. The same key keeps a browser's pin on the
public key (``spki_sha256``), and the collector follows the renewed certificate because
the box's Ed25519 identity signs it. A court with its own certificate authority
configures ``api.tls_cert`` and ``api.tls_key`` instead, so that the bench's browsers
trust the box without a warning; the court renews that one.

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
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from courtbox.errors import TlsError
from courtbox.record.chain import certificate_sha256, certificate_statement
from courtbox.record.identity import IDENTITY_DIR, Identity, write_private

logger = logging.getLogger(__name__)

CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
LIFETIME = dt.timedelta(days=397)  # not_before to not_after, the CA/B Forum ceiling
RENEW_DAYS = 30  # renewed when fewer days than this remain
BACKDATE = dt.timedelta(hours=1)  # for a browser whose clock is a little behind the box's


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
        cert = _self_signed(key, box_id, dt.datetime.now(dt.UTC))
        try:
            write_private(key_path, key.private_bytes(serialization.Encoding.PEM,
                                                      serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))
            write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        except FileExistsError:
            pass  # another process made it first: use theirs
    return renew_if_due(data_dir, box_id) or load_certificate(cert_path, key_path)


def renewal_due(pem: bytes, now: dt.datetime) -> bool:
    """Whether a certificate must be renewed at ``now``: fewer than ``RENEW_DAYS`` left,
    not yet valid, or valid for longer than ``LIFETIME``."""
    cert = x509.load_pem_x509_certificate(pem)
    since, until = cert.not_valid_before_utc, cert.not_valid_after_utc
    return (until - now < dt.timedelta(days=RENEW_DAYS) or now < since
            or until - since > LIFETIME)


def renew_if_due(data_dir: Path | str, box_id: str, now: dt.datetime | None = None
                 ) -> Certificate | None:
    """The box's own certificate renewed with its key, when ``renewal_due``; None when it
    is not due. The new file replaces the old at once (written beside it, then renamed)."""
    folder = Path(data_dir) / IDENTITY_DIR
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    current = load_certificate(cert_path, key_path)
    now = now or dt.datetime.now(dt.UTC)
    if not renewal_due(current.pem, now):
        return None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TlsError(f"the TLS key {key_path} is not the box's own ECDSA key")
    pem = _self_signed(key, box_id, now).public_bytes(serialization.Encoding.PEM)
    new = cert_path.with_name(f"{CERT_FILE}.new")
    new.unlink(missing_ok=True)
    write_private(new, pem)
    os.replace(new, cert_path)
    renewed = load_certificate(cert_path, key_path)
    logger.info("renewed the box's TLS certificate (same key) until %s",
                x509.load_pem_x509_certificate(pem).not_valid_after_utc.date())
    return renewed


def api_certificate(api, data_dir: Path | str, box_id: str) -> Certificate | None:
    """The certificate the API serves under ``api`` (the config's ``[api]``): None with
    ``tls = false``, the court's when ``tls_cert`` is set (``TlsError`` when it cannot be
    used), else the box's own."""
    if not api.tls:
        return None
    if api.tls_cert:
        return load_certificate(api.tls_cert, api.tls_key)
    return box_certificate(data_dir, box_id)


def _self_signed(key: ec.EllipticCurvePrivateKey, box_id: str, now: dt.datetime
                 ) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"courtbox-{box_id[:12]}"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "courtbox")])
    sans = [x509.DNSName(f"courtbox-{box_id[:12]}.local"), x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now - BACKDATE + LIFETIME)
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


class ServedCertificate:
    """The certificate a running server serves, renewed in place: call it for the one
    served now; ``renew`` (the agent's housekeeping) renews the box's own when it is due
    and loads it into the server's TLS context, for every connection from then on."""

    def __init__(self, cert: Certificate, data_dir: Path | str, box_id: str) -> None:
        self.current = cert
        self.data_dir, self.box_id = Path(data_dir), box_id
        self.own = cert.cert_path == self.data_dir / IDENTITY_DIR / CERT_FILE

    def __call__(self) -> Certificate:
        return self.current

    def renew(self, context: ssl.SSLContext | None,
              now: dt.datetime | None = None) -> Certificate | None:
        """The renewed certificate, or None (not due, or the court's: the court renews
        that)."""
        if not self.own:
            return None
        new = renew_if_due(self.data_dir, self.box_id, now)
        if new is not None:
            if context is not None:
                context.load_cert_chain(str(new.cert_path), str(new.key_path))
            self.current = new
        return new
