"""The browser hardening headers on every HTTP response of the box, pages and API alike.

- ``Content-Security-Policy``: scripts only from the box itself, or one of the pages' own
  inline scripts by its sha256 (``script_hashes``, read from ``static/`` at start: no inline
  handler, no ``eval``, nothing injected runs); connections, media and images from the box
  only; no plugins; ``frame-ancestors 'none'``. Inline ``style`` attributes stay allowed
  (``style-src 'unsafe-inline'``): CSS runs no script, and the pages write text with
  ``textContent``.
- ``X-Frame-Options: DENY`` for browsers that predate ``frame-ancestors``;
  ``X-Content-Type-Options: nosniff``; ``Referrer-Policy: no-referrer`` (a hearing's id in
  a URL never leaves the box); ``Cross-Origin-Opener-Policy: same-origin``.
- ``Strict-Transport-Security`` when the request came over TLS (a box on plain HTTP behind
  a court's proxy leaves that header to the proxy).
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from importlib import resources

HSTS = b"max-age=31536000"
_INLINE = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@cache
def script_hashes() -> tuple[str, ...]:
    """The CSP source of each inline script of the pages (every HTML file the box serves,
    in ``web/static``): ``'sha256-…'``."""
    found = []
    static = resources.files("courtbox.web") / "static"
    for name in sorted(p.name for p in static.iterdir() if p.name.endswith(".html")):
        for script in _INLINE.findall((static / name).read_text("utf-8")):
            digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest())
            found.append(f"'sha256-{digest.decode('ascii')}'")
    return tuple(found)


@cache
def policy() -> str:
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' " + " ".join(script_hashes()),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


@cache
def _headers() -> tuple[tuple[bytes, bytes], ...]:
    return ((b"content-security-policy", policy().encode("ascii")),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"))


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response (a route's own header of
    the same name wins)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra = _headers() + (((b"strict-transport-security", HSTS),)
                              if scope.get("scheme") == "https" else ())

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [
                    *message.get("headers", []),
                    *((k, v) for k, v in extra if k not in present)]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
