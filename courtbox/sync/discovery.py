"""Finding boxes: the agent advertises ``_courtbox._tcp.local.`` over mDNS (python-zeroconf)
and the collector browses for it.

The TXT record is small and says who the box is, never anything secret: box id, court,
room, API version, key fingerprint and URL scheme. mDNS stays on one network link and court networks
are routed, so discovery only helps: the collector pulls the boxes added to it (with their
token and pinned fingerprint, ``courtbox central add-box``), follows a known box to a new
address when it is announced with the same id and fingerprint, and lists boxes it has seen
but not been given (``discovered``) for an operator to enrol. A rogue responder can announce
anything; it gains nothing, because the collector talks only to a box that proves the pinned
key: over TLS with the certificate that key signed (so the collector's token never reaches
an impostor), and with entries that key signed.
"""

from __future__ import annotations

import logging
import socket

from zeroconf import (
    InterfaceChoice,
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
)

from courtbox.record.identity import Identity

logger = logging.getLogger(__name__)

SERVICE = "_courtbox._tcp.local."
API_VERSION = "1"


def _addresses(host: str) -> list[bytes]:
    if host in ("0.0.0.0", ""):
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            host = "127.0.0.1"
    return [socket.inet_aton(host)]


class Advertiser:
    """The box, announced on the link for as long as the agent runs."""

    def __init__(self, identity: Identity, *, court: str, room: str, host: str,
                 port: int, scheme: str = "https",
                 interfaces: list[str] | None = None) -> None:
        props = {"box_id": identity.box_id, "court": court, "room": room,
                 "api": API_VERSION, "fp": identity.fingerprint, "scheme": scheme}
        self.info = ServiceInfo(SERVICE, f"courtbox-{identity.box_id[:12]}.{SERVICE}",
                                addresses=_addresses(host), port=port, properties=props,
                                server=f"courtbox-{identity.box_id[:12]}.local.")
        if interfaces is None:  # a box on loopback announces itself there only
            interfaces = ["127.0.0.1"] if host.startswith("127.") else InterfaceChoice.All
        self.zc = Zeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        self.zc.register_service(self.info, allow_name_change=True)

    def close(self) -> None:
        try:
            self.zc.unregister_service(self.info)
        finally:
            self.zc.close()


class BoxBrowser:
    """Browses for boxes; ``store`` is the collector's ``CentralStore`` (the box's side of
    the network does not import the centre: it is handed one)."""

    def __init__(self, store, interfaces: list[str] | None = None) -> None:
        self.store = store
        store.enable_discovery()
        self.zc = Zeroconf(interfaces=interfaces or InterfaceChoice.All,
                           ip_version=IPVersion.V4Only)
        self.browser = ServiceBrowser(self.zc, SERVICE, handlers=[self._changed])

    def _changed(self, zeroconf: Zeroconf, service_type: str, name: str,
                 state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            return
        info = zeroconf.get_service_info(service_type, name, timeout=3000)
        if info is None or not info.parsed_addresses():
            return
        props = {k.decode(): (v or b"").decode("utf-8", "replace")
                 for k, v in info.properties.items()}
        scheme = "http" if props.get("scheme") == "http" else "https"
        self.seen(props, f"{scheme}://{info.parsed_addresses()[0]}:{info.port}")

    def seen(self, props: dict, url: str) -> None:
        box_id, fp = props.get("box_id"), props.get("fp")
        if not box_id:
            return
        self.store.saw_box(box_id, url, court=props.get("court"), room=props.get("room"),
                           fingerprint=fp)
        known = [b for b in self.store.boxes() if b["box_id"] == box_id]
        for box in known:
            # A known box keeps the scheme it was added with: an announcement may move it,
            # never take its TLS away.
            url = box["url"].split("://", 1)[0] + "://" + url.split("://", 1)[1]
            if box["url"] != url and box["fingerprint"] == fp:
                logger.warning("box %s moved from %s to %s", box_id, box["url"], url)
                self.store.move_box(box["url"], url)
        if not known:
            logger.info("box %s (%s %s) discovered at %s, not added", box_id,
                        props.get("court"), props.get("room"), url)

    def close(self) -> None:
        self.browser.cancel()
        self.zc.close()
