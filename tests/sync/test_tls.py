"""The box's own TLS certificate: a lifetime a court's PKI accepts (397 days), renewed with
the same key when fewer than 30 days remain, when not yet valid, or when it is one of the
old ones valid until 9999; at start (a real ``courtbox run``) and in the running server's
TLS context (a real handshake after ``ServedCertificate.renew``). The renewed certificate
keeps the browser's SPKI pin and carries the box key's signature the collector checks."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from courtbox.record.chain import certificate_statement, decode_signature, signature_valid
from courtbox.record.identity import IDENTITY_DIR, open_store
from courtbox.sync import tls
from tests.conftest import RunningAgent

NOW = dt.datetime.now(dt.UTC)


def cert_of(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def install(data: Path, box_id: str, not_before: dt.datetime, not_after: dt.datetime
            ) -> str:
    """Replace the box's certificate (same key) with one valid from ``not_before`` to
    ``not_after``, as an older courtbox made it; returns its SPKI pin."""
    folder = data / IDENTITY_DIR
    key = serialization.load_pem_private_key((folder / tls.KEY_FILE).read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "courtbox-old")])
    pem = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
           .public_key(key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(not_before).not_valid_after(not_after)
           .sign(key, hashes.SHA256())).public_bytes(serialization.Encoding.PEM)
    (folder / tls.CERT_FILE).write_bytes(pem)
    return tls.spki_sha256(pem)


def test_a_new_box_certificate_lives_397_days(tmp_path: Path) -> None:
    """Before: valid until 9999-12-31."""
    cert = tls.box_certificate(tmp_path, "b" * 32)
    x = cert_of(cert.pem)
    assert x.not_valid_after_utc - x.not_valid_before_utc <= dt.timedelta(days=397)
    assert x.not_valid_before_utc <= NOW < x.not_valid_after_utc
    assert x.not_valid_after_utc - NOW > dt.timedelta(days=390)
    assert not tls.renewal_due(cert.pem, NOW)
    assert tls.renewal_due(cert.pem, NOW + dt.timedelta(days=370))
    assert tls.renew_if_due(tmp_path, "b" * 32) is None  # not due: left as it is


def test_an_expiring_or_endless_certificate_is_renewed_with_the_same_key(
        tmp_path: Path) -> None:
    """Before: never renewed (it never expired)."""
    store = open_store(tmp_path)
    identity = store.identity
    store.close()
    first = tls.box_certificate(tmp_path, identity.box_id)
    for since, until in [(NOW - dt.timedelta(days=380), NOW + dt.timedelta(days=10)),
                         (NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=3)),
                         (NOW + dt.timedelta(days=5), NOW + dt.timedelta(days=300)),
                         (dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                          dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC))]:
        pin = install(tmp_path, identity.box_id, since, until)
        renewed = tls.box_certificate(tmp_path, identity.box_id)  # at start
        x = cert_of(renewed.pem)
        assert x.not_valid_before_utc <= NOW < x.not_valid_after_utc, (since, until)
        assert x.not_valid_after_utc - x.not_valid_before_utc <= dt.timedelta(days=397)
        assert renewed.spki_sha256 == pin == first.spki_sha256  # the browser's pin holds
        assert (tmp_path / IDENTITY_DIR / tls.CERT_FILE).read_bytes() == renewed.pem
        vouched = tls.vouch(identity, renewed)
        assert signature_valid(identity.signer.algorithm, identity.signer.public_key(),
                               certificate_statement(vouched["sha256"]),
                               decode_signature(vouched["signature"]))
    assert not list((tmp_path / IDENTITY_DIR).glob("*.new"))


def handshake(context: ssl.SSLContext) -> bytes:
    """The certificate a server on ``context`` presents, over a real TLS handshake."""
    server_side, client_side = socket.socketpair()
    done = threading.Event()

    def serve() -> None:
        try:
            with context.wrap_socket(server_side, server_side=True) as s:
                s.recv(1)
        except (OSError, ssl.SSLError):
            pass
        finally:
            done.set()

    t = threading.Thread(target=serve, name="tls-server")
    t.start()
    client = ssl.create_default_context()
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    try:
        with client.wrap_socket(client_side, server_hostname="localhost") as c:
            der = c.getpeercert(binary_form=True)
            c.sendall(b"x")
    finally:
        t.join(10)
    assert der is not None
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def test_the_running_server_serves_the_renewed_certificate(tmp_path: Path) -> None:
    """``ServedCertificate.renew``, as housekeeping calls it, swaps the served certificate
    for new connections, and the sync identity vouches for the new one."""
    box_id = "c" * 32
    cert = tls.box_certificate(tmp_path, box_id)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.cert_path), str(cert.key_path))
    served = tls.ServedCertificate(cert, tmp_path, box_id)
    assert handshake(context) == cert.pem
    assert served.renew(context) is None  # not due
    later = NOW + dt.timedelta(days=380)
    renewed = served.renew(context, now=later)
    assert renewed is not None and served() is renewed
    assert cert_of(renewed.pem).not_valid_after_utc > later + dt.timedelta(days=390)
    assert handshake(context) == renewed.pem
    court = tls.ServedCertificate(tls.Certificate(tmp_path / "court.crt", cert.key_path,
                                                  cert.pem), tmp_path, box_id)
    assert court.renew(context, now=later + dt.timedelta(days=400)) is None  # the court's


def test_courtbox_run_renews_an_old_certificate_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(data)
    box_id = store.identity.box_id
    store.close()
    tls.box_certificate(data, box_id)
    install(data, box_id, dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC))
    agent = RunningAgent(tmp_path, transcribe=False, data=data,
                         extra_config="[sync]\nadvertise = false\n")
    try:
        identity = httpx.get(agent.url + "/api/v1/sync/identity", verify=agent.verify,
                             timeout=30).json()
        served = identity["tls"]["certificate"].encode()
        assert served == agent.cert.read_bytes()
        x = cert_of(served)
        assert x.not_valid_after_utc - x.not_valid_before_utc <= dt.timedelta(days=397)
    finally:
        agent.stop()
