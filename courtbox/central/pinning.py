"""The centre's side of the box's TLS certificate: trust exactly the one the box's key signed.

The box serves its certificate at ``/api/v1/sync/identity`` with its identity key's
signature over ``chain.certificate_statement`` (``courtbox.sync.tls``, the box's side). The
collector pinned that key's fingerprint at enrolment; it checks the signature
(``trusted_certificate``) and then trusts that one certificate and nothing else
(``pinned_context``). A renewed certificate is taken the same way; one the pinned key did
not sign, never.
"""

from __future__ import annotations

import ssl

from courtbox.errors import TlsError
from courtbox.record.chain import (
    certificate_sha256,
    certificate_statement,
    decode_signature,
    signature_valid,
)


def trusted_certificate(ident: dict, public_key: bytes) -> str:
    """The certificate of an identity document, once its signature by ``public_key`` (the
    pinned identity key) checks out; ``TlsError`` saying why not otherwise."""
    tls = ident.get("tls")
    if not isinstance(tls, dict):
        raise TlsError("the box offers no TLS certificate in its identity")
    pem = str(tls.get("certificate", "")).encode("ascii", "replace")
    try:
        sha = certificate_sha256(pem)
        signature = decode_signature(str(tls.get("signature", "")))
    except ValueError as e:
        raise TlsError(f"the box's TLS certificate cannot be read: {e}") from e
    if not signature_valid(ident.get("algorithm", ""), public_key,
                           certificate_statement(sha), signature):
        raise TlsError(f"the box's TLS certificate {sha[:16]}… is not signed by its "
                       f"pinned key: refused")
    return pem.decode("ascii")


def pinned_context(pem: str) -> ssl.SSLContext:
    """A client context that trusts exactly this certificate: the box is who holds its
    key, whatever address it answers on (so no host name check)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # a court-CA leaf, pinned alone
    try:
        ctx.load_verify_locations(cadata=pem)
    except ssl.SSLError as e:
        raise TlsError(f"cannot pin the box's certificate: {e}") from e
    return ctx
