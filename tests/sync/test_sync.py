"""Sync to the court network with the real pieces: ``courtbox run`` agents on loopback,
``courtbox central run`` as the collector, real recorded audio, real HTTP.

Shown here: records and audio arrive byte-identical, verified and exactly once; a replayed
or reordered batch changes nothing; a byte changed on the box (in a file or a row) is
quarantined and reported with box, hearing and record, and never acknowledged; a collector
killed with SIGKILL in the middle of a download resumes it; retention releases only what
the centre acknowledged, of closed hearings.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import signal
import sqlite3
import ssl
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from courtbox.central.collector import CentralStore, Collector
from courtbox.record.store import Store
from tests.conftest import RunningAgent, courtbox_cmd


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([*courtbox_cmd(), *args], capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def record_hearing(agent: RunningAgent, case: str, seconds: float = 6.0,
                   close: bool = True) -> str:
    with agent.client("clerk1") as clerk:
        hid = clerk.post("/api/v1/hearings", json={"case_number": case}).json()["id"]
        clerk.post(f"/api/v1/hearings/{hid}/start").raise_for_status()
        time.sleep(seconds)
        if close:
            clerk.post(f"/api/v1/hearings/{hid}/close").raise_for_status()
        else:
            clerk.post(f"/api/v1/hearings/{hid}/pause",
                       json={"reason": "recess"}).raise_for_status()
    return hid


def enroll(agent: RunningAgent, central: Path, url: str | None = None) -> None:
    out = cli("sync", "enroll", "central", "--url", url or agent.url, "--config",
              str(agent.config)).stdout
    add = out.strip().splitlines()[-1].split()
    assert add[:3] == ["courtbox", "central", "add-box"]
    cli(*add[1:], "--data-dir", str(central))


def box_read(agent: RunningAgent, fn):
    store = Store.in_dir(agent.data)
    try:
        return fn(store)
    finally:
        store.close()


def central_read(central: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(central / "central.db")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def assert_audio_at_centre(agent: RunningAgent, central: Path) -> None:
    """Every audio file of the box is at the centre, byte for byte, under its sha256."""
    for seg in box_read(agent, lambda s: [x for h in s.hearings()
                                          for x in s.segments(h["id"])]):
        (path,) = central_read(central, "SELECT path FROM blobs WHERE sha256 = ?",
                               [seg["sha256"]])[0]
        data = Path(path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == seg["sha256"]
        assert data == (agent.data / seg["path"]).read_bytes()


@pytest.fixture()
def boxes(tmp_path: Path, cache_dir: Path):
    agents = [RunningAgent(tmp_path / f"box{i}", transcribe=False,
                           extra_config="[sync]\nadvertise = false\nretention_days = 0\n")
              for i in range(2)]
    yield agents
    for a in agents:
        a.stop()


def test_two_boxes_arrive_at_the_centre_verified_and_exactly_once(boxes, tmp_path: Path
                                                                  ) -> None:
    central = tmp_path / "central"
    hearings = {}
    for n, agent in enumerate(boxes):
        hearings[n] = record_hearing(agent, f"(2026)京0105民初{n}号")
        enroll(agent, central)
    out = cli("central", "run", "--once", "--data-dir", str(central)).stdout
    assert out.count("0 quarantined; ok") == 2, out

    for agent in boxes:
        box_id = box_read(agent, lambda s: s.identity.box_id)
        entries = box_read(agent, lambda s: s.outbox(0, 100000))
        held = central_read(central, "SELECT seq, sha256, body, signature FROM records"
                            " WHERE box_id = ? ORDER BY seq", [box_id])
        assert [(e.seq, e.sha256, e.body, e.signature) for e in entries] == held
        assert_audio_at_centre(agent, central)
        # acknowledged: every entry and every audio file
        acked = box_read(agent, lambda s: s.db.execute(
            "SELECT acked_seq FROM collectors").fetchone()[0])
        assert acked == entries[-1].seq
        unacked = box_read(agent, lambda s: s.db.execute(
            "SELECT COUNT(*) FROM audio_segments WHERE sha256 NOT IN"
            " (SELECT sha256 FROM blob_acks)").fetchone()[0])
        assert unacked == 0

    # Again: nothing new, nothing twice.
    before = central_read(central, "SELECT COUNT(*) FROM records")[0][0]
    out = cli("central", "run", "--once", "--data-dir", str(central)).stdout
    assert out.count(": 0 records, 0 blobs") == 2, out
    assert central_read(central, "SELECT COUNT(*) FROM records")[0][0] == before
    status = json.loads(cli("central", "status", "--json", "--data-dir",
                            str(central)).stdout)
    assert len(status["boxes"]) == 2 and status["quarantine"] == []
    for b in status["boxes"]:
        hb = b["heartbeat"]
        assert hb["version"] and hb["recording"] is False and "hours_left" in hb["disk"]
        assert hb["sync"]["lag_records"] == 0 and hb["sync"]["lag_bytes"] == 0


def test_a_replayed_and_reordered_batch_changes_nothing(boxes, tmp_path: Path) -> None:
    agent = boxes[0]
    central = tmp_path / "central"
    record_hearing(agent, "replay")
    enroll(agent, central)
    cli("central", "run", "--once", "--data-dir", str(central))
    store = CentralStore(central)
    try:
        (box,) = store.boxes()
        token = {"Authorization": f"Bearer {box['token']}"}
        batch = httpx.get(f"{agent.url}/api/v1/sync/changes", headers=token,
                          params={"after": 0, "limit": 5000},
                          verify=agent.verify).json()["entries"]
        before = store.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        store.update_box(box["url"], cursor=0)  # as if the acknowledgement had been lost
        (box,) = store.boxes()
        shuffled = list(reversed(batch)) + batch[:3]

        async def take() -> None:
            from courtbox.central.collector import PullReport
            async with httpx.AsyncClient(verify=agent.verify) as client:
                await Collector(store)._take(client, box, token, shuffled,
                                             PullReport(box["url"]))

        asyncio.run(take())
        after = store.conn.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        assert after == before == len(batch)
        assert store.quarantined() == []
        assert store.boxes()[0]["cursor"] == batch[-1]["seq"]
    finally:
        store.close()


def test_a_changed_byte_on_the_box_is_quarantined_and_never_acknowledged(
        boxes, tmp_path: Path) -> None:
    agent = boxes[0]
    central = tmp_path / "central"
    record_hearing(agent, "clean")
    enroll(agent, central)
    cli("central", "run", "--once", "--data-dir", str(central))
    acked_before = box_read(agent, lambda s: s.db.execute(
        "SELECT acked_seq FROM collectors").fetchone()[0])

    # A second hearing, one byte of its last audio file changed on the box (its first
    # file holds the same bytes as the first hearing's, which the centre already has).
    hid = record_hearing(agent, "tampered", seconds=8)
    seg = box_read(agent, lambda s: s.segments(hid))[-1]
    path = agent.data / seg["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    r = cli("central", "run", "--once", "--data-dir", str(central), check=False)
    assert r.returncode == 1 and "1 quarantined" in r.stdout
    status = json.loads(cli("central", "status", "--json", "--data-dir",
                            str(central)).stdout)
    (q,) = status["quarantine"]
    assert q["hearing_id"] == hid and q["kind"] == "audio_segment"
    assert q["record_id"] == seg["id"] and "does not match its sha256" in q["reason"]
    assert q["box_id"] == box_read(agent, lambda s: s.identity.box_id)
    assert status["boxes"][0]["blocked"].startswith(f"seq {q['seq']}")
    text = cli("central", "status", "--data-dir", str(central)).stdout
    assert f"QUARANTINED box {q['box_id']} hearing {hid} seq {q['seq']}" in text
    # Nothing from the bad entry on is stored or acknowledged; the file never arrived.
    assert central_read(central, "SELECT COUNT(*) FROM records WHERE seq >= ?",
                        [q["seq"]])[0][0] == 0
    assert not central_read(central, "SELECT 1 FROM blobs WHERE sha256 = ?",
                            [seg["sha256"]])
    acked = box_read(agent, lambda s: s.db.execute(
        "SELECT acked_seq FROM collectors").fetchone()[0])
    assert acked_before <= acked < q["seq"]
    # Running again changes nothing and reports it once.
    cli("central", "run", "--once", "--data-dir", str(central), check=False)
    assert len(json.loads(cli("central", "status", "--json", "--data-dir",
                              str(central)).stdout)["quarantine"]) == 1


def test_an_altered_row_is_quarantined(boxes, tmp_path: Path) -> None:
    agent = boxes[1]
    central = tmp_path / "central"
    hid = record_hearing(agent, "(2026)京0105民初5号")
    enroll(agent, central)
    conn = sqlite3.connect(agent.data / "courtbox.db")
    conn.execute("UPDATE outbox SET body = replace(body, '民初5号', '民初6号')"
                 " WHERE kind = 'hearing' AND hearing_id = ?", [hid])
    conn.commit()
    conn.close()
    r = cli("central", "run", "--once", "--data-dir", str(central), check=False)
    assert r.returncode == 1
    (q,) = json.loads(cli("central", "status", "--json", "--data-dir",
                          str(central)).stdout)["quarantine"]
    assert q["hearing_id"] == hid and q["kind"] == "hearing"
    assert "body does not match its sha256" in q["reason"]


def collector_inside_a_download(central: Path) -> subprocess.Popen:
    """``courtbox central run --once``, returned once it has 20 kB of an audio file."""
    run = subprocess.Popen([*courtbox_cmd(), "central", "run", "--once", "--data-dir",
                            str(central)], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size > 20_000 for p in (central / "blobs").glob("*/*.part")):
        assert time.monotonic() < deadline and run.poll() is None
        time.sleep(0.02)
    return run


class SlowProxy:
    """A TLS proxy on loopback that passes the box's answers on at ``rate`` bytes/s and
    logs what the collector asked for. It ends the collector's TLS with ``certificate``
    (cert and key files): the box's own makes it a slow link to the box, another key's a
    man in the middle. It speaks TLS to the box."""

    def __init__(self, target: str, rate: int, certificate: tuple[Path, Path]) -> None:
        self.retarget(target)
        self.rate = rate
        self.requests: list[bytes] = []
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(lambda *_: None)  # refused handshakes are the point
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_tls.load_cert_chain(*certificate)
        self.upstream_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self.upstream_tls.check_hostname = False
        self.upstream_tls.verify_mode = ssl.CERT_NONE
        self.server = asyncio.run_coroutine_threadsafe(asyncio.start_server(
            self._serve, "127.0.0.1", 0, ssl=server_tls), self.loop).result()
        self.url = f"https://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    def retarget(self, url: str) -> None:
        """Pass new connections on to ``url`` (the box restarted on another port)."""
        host, port = url.removeprefix("https://").rsplit(":", 1)
        self.target = (host, int(port))

    async def _serve(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target,
                                                                 ssl=self.upstream_tls)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer, slow=False),
                             self._pipe(up_reader, writer, slow=True))

    async def _pipe(self, src, dst, slow: bool) -> None:
        try:
            while data := await src.read(4096):
                if not slow:
                    self.requests.append(data)
                dst.write(data)
                await dst.drain()
                if slow:
                    await asyncio.sleep(len(data) / self.rate)
        except (OSError, ssl.SSLError):
            pass
        finally:
            dst.close()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)


def own_certificate(agent: RunningAgent) -> tuple[Path, Path]:
    return agent.cert, agent.data / "identity" / "tls.key"


def test_a_collector_killed_mid_download_resumes_it(boxes, tmp_path: Path) -> None:
    agent = boxes[0]
    central = tmp_path / "central"
    record_hearing(agent, "slow", seconds=8)
    proxy = SlowProxy(agent.url, rate=60_000, certificate=own_certificate(agent))
    try:
        enroll(agent, central, url=proxy.url)
        run = collector_inside_a_download(central)
        run.send_signal(signal.SIGKILL)
        run.wait()
        part = next((central / "blobs").glob("*/*.part"))
        have = part.stat().st_size
        assert have > 0
        assert central_read(central, "SELECT COUNT(*) FROM records")[0][0] == 0
        proxy.requests.clear()
        cli("central", "run", "--once", "--data-dir", str(central))
        asked = b"".join(proxy.requests)
        assert f"range: bytes={have}-".encode() in asked.lower()
    finally:
        proxy.close()
    entries = box_read(agent, lambda s: s.outbox(0, 100000))
    assert central_read(central, "SELECT COUNT(*) FROM records")[0][0] == len(entries)
    assert_audio_at_centre(agent, central)
    assert not list((central / "blobs").glob("*/*.part"))


def test_a_man_in_the_middle_gets_no_token_and_a_renewed_certificate_is_pinned(
        boxes, tmp_path: Path) -> None:
    """A proxy that ends TLS with a certificate of its own and relays the box's genuine
    identity: the collector learns the certificate the box's key signed, refuses the
    proxy's and sends it no token. A certificate the box has renewed (signed by the same
    key) is pinned in place of the old one; one the key did not sign, never, and one it
    replaced, never again."""
    from courtbox.sync.tls import TlsError, box_certificate, certificate_sha256, trusted_certificate

    agent = boxes[1]
    central = tmp_path / "central"
    record_hearing(agent, "mitm", seconds=2)
    rogue = box_certificate(tmp_path / "rogue", "rogue")
    proxy = SlowProxy(agent.url, rate=10**9, certificate=(rogue.cert_path, rogue.key_path))
    try:
        enroll(agent, central, url=proxy.url)
        run = cli("central", "run", "--once", "--data-dir", str(central), check=False)
        assert run.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in run.stdout
        assert "no token sent" in run.stdout
        asked = b"".join(proxy.requests).lower()
        assert b"get /api/v1/sync/identity" in asked and b"authorization" not in asked
    finally:
        proxy.close()
    assert central_read(central, "SELECT COUNT(*) FROM records")[0][0] == 0
    assert central_read(central, "SELECT tls_certificate FROM boxes") == [
        (agent.cert.read_text(),)]

    # Reached directly, with an older certificate pinned: the box's current one, signed
    # by its key, takes the pin's place and the pull goes through.
    store = CentralStore(central)
    try:
        store.conn.execute("UPDATE boxes SET url = ?, tls_certificate = ?",
                           [agent.url, rogue.pem.decode()])
    finally:
        store.close()
    cli("central", "run", "--once", "--data-dir", str(central))
    assert central_read(central, "SELECT tls_certificate FROM boxes") == [
        (agent.cert.read_text(),)]
    entries = box_read(agent, lambda s: s.outbox(0, 100000))
    assert central_read(central, "SELECT COUNT(*) FROM records")[0][0] == len(entries)
    assert central_read(central, "SELECT retired_certificates FROM boxes") == [
        (json.dumps([certificate_sha256(rogue.pem)]),)]

    # The other way round: a certificate the box's key signed and that the collector has
    # seen replaced (the box's current one stands in for it) is never pinned again, so
    # whoever stole an old TLS key cannot replay the box's old identity.
    current = certificate_sha256(agent.cert.read_bytes())
    store = CentralStore(central)
    try:
        store.conn.execute("UPDATE boxes SET tls_certificate = ?, retired_certificates = ?",
                           [rogue.pem.decode(), json.dumps([current])])
    finally:
        store.close()
    run = cli("central", "run", "--once", "--data-dir", str(central), check=False)
    assert run.returncode == 1 and "has since replaced" in run.stdout, run.stdout
    assert "no token sent" in run.stdout
    assert central_read(central, "SELECT tls_certificate FROM boxes") == [
        (rogue.pem.decode(),)]

    ident = httpx.get(f"{agent.url}/api/v1/sync/identity", verify=agent.verify).json()
    shown = cli("identity", "--config", str(agent.config)).stdout  # for the court's IT
    assert ident["tls"]["sha256"] == hashlib.sha256(ssl.PEM_cert_to_DER_cert(
        agent.cert.read_text())).hexdigest()
    assert ident["tls"]["sha256"].upper() == shown.split("tls sha256")[1].strip().replace(
        ":", "")
    key = base64.b64decode(ident["public_key"])
    assert trusted_certificate(ident, key) == agent.cert.read_text()
    swapped = {**ident, "tls": {**ident["tls"], "certificate": rogue.pem.decode()}}
    with pytest.raises(TlsError, match="not signed by its pinned key"):
        trusted_certificate(swapped, key)
    with pytest.raises(TlsError, match="offers no TLS certificate"):
        trusted_certificate({k: v for k, v in ident.items() if k != "tls"}, key)


def test_retention_releases_only_acknowledged_audio_of_closed_hearings(boxes,
                                                                       tmp_path: Path
                                                                       ) -> None:
    agent = boxes[1]
    central = tmp_path / "central"
    closed = record_hearing(agent, "closed")
    enroll(agent, central)
    cli("central", "run", "--once", "--data-dir", str(central))
    paused = record_hearing(agent, "paused, acknowledged", close=False)
    cli("central", "run", "--once", "--data-dir", str(central))
    later = record_hearing(agent, "closed, not yet acknowledged")

    out = cli("sync", "release", "--config", str(agent.config)).stdout
    released = box_read(agent, lambda s: [r["segment_id"]
                                          for r in s.db["released_segments"].rows])
    closed_segments = box_read(agent, lambda s: s.segments(closed))
    assert sorted(released) == sorted(s["id"] for s in closed_segments)
    assert f"released {len(closed_segments)} segment(s)" in out
    for seg in closed_segments:
        assert not (agent.data / seg["path"]).exists()
    for hid in (paused, later):
        for seg in box_read(agent, lambda s, h=hid: s.segments(h)):
            assert (agent.data / seg["path"]).exists()
    actions = box_read(agent, lambda s: [a["action"] for a in s.db["audit_log"].rows])
    assert actions.count("audio.released") == len(closed_segments)
    verify = cli("verify", "--json", "--config", str(agent.config)).stdout
    report = {h["hearing_id"]: h for h in json.loads(verify)["hearings"]}
    assert report[closed]["ok"] and report[closed]["released"] == len(closed_segments)


def test_a_box_killed_mid_serve_and_a_cut_connection_lose_nothing(boxes,
                                                                  tmp_path: Path) -> None:
    agent = boxes[0]
    central = tmp_path / "central"
    record_hearing(agent, "cut", seconds=8)
    proxy = SlowProxy(agent.url, rate=60_000, certificate=own_certificate(agent))
    try:
        enroll(agent, central, url=proxy.url)
        run = collector_inside_a_download(central)
        agent.proc.send_signal(signal.SIGKILL)  # the box dies in the middle of a blob
        out, _ = run.communicate(timeout=120)
        assert run.returncode == 1 and "error" in out  # reported, nothing half-stored
        restarted = RunningAgent(tmp_path / "again", transcribe=False, data=agent.data,
                                 extra_config="[sync]\nadvertise = false\n")
        try:
            proxy.retarget(restarted.url)
            cli("central", "run", "--once", "--data-dir", str(central))
            entries = box_read(restarted, lambda s: s.outbox(0, 100000))
            held = central_read(central, "SELECT seq, sha256 FROM records ORDER BY seq")
            assert held == [(e.seq, e.sha256) for e in entries]
            assert_audio_at_centre(restarted, central)
        finally:
            restarted.stop()
    finally:
        proxy.close()


def test_discovery_finds_boxes_and_ignores_a_rogue_responder(tmp_path: Path,
                                                             cache_dir: Path) -> None:
    """Real mDNS on loopback: the agent announces itself; the collector's browser records
    it, follows a box it knows to its announced address, and does not follow an announcer
    that uses the box's id with another key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from courtbox.record.identity import Ed25519Signer, Identity
    from courtbox.sync.discovery import Advertiser, BoxBrowser

    agent = RunningAgent(tmp_path / "box", transcribe=False)  # sync.advertise: default on
    store = CentralStore(tmp_path / "central")
    rogue = None
    try:
        ident = box_read(agent, lambda s: s.identity)
        store.add_box("https://127.0.0.1:1", "token", ident.fingerprint)  # an old address
        store.update_box("https://127.0.0.1:1", box_id=ident.box_id)
        impostor = Identity(ident.box_id, Ed25519Signer(Ed25519PrivateKey.generate()))
        rogue = Advertiser(impostor, court="示例人民法院", room="第一科技法庭",
                           host="127.0.0.1", port=9)
        browser = BoxBrowser(store, interfaces=["127.0.0.1"])
        deadline = time.monotonic() + 20
        while store.boxes()[0]["url"] != agent.url:
            assert time.monotonic() < deadline, store.boxes()
            time.sleep(0.2)
        time.sleep(2)  # the rogue's announcement has had its chance too
        assert store.boxes()[0]["url"] == agent.url
        browser.close()
        (found,) = store.conn.execute("SELECT box_id, court, room FROM discovered"
                                      ).fetchall()
        assert found == (ident.box_id, "示例人民法院", "第一科技法庭")
    finally:
        if rogue is not None:
            rogue.close()
        store.close()
        agent.stop()


def test_disk_pressure_never_releases_unacknowledged_audio(tmp_path: Path) -> None:
    """With nothing acknowledged, a full disk releases nothing and raises the alarm."""
    from courtbox.sync.retention import pressure_alarm, release

    store = Store.in_dir(tmp_path / "data")
    try:
        hid = store.create_hearing(case_number="x", court="c", room="r", sample_rate=16000,
                                   channels=1, seats=[])
        store.update_hearing(hid, state="closed")
        store.add_segment({"id": f"{hid}:1:0", "hearing_id": hid, "part": 1, "idx": 0,
                           "path": "audio/x.flac", "start_sample": 0, "frames": 16000,
                           "sample_rate": 16000, "channels": 1, "sha256": "a" * 64,
                           "prev_sha256": None})
        (tmp_path / "data" / "audio").mkdir()
        (tmp_path / "data" / "audio" / "x.flac").write_bytes(b"audio")
        assert release(store, tmp_path / "data", 0) == []
        assert (tmp_path / "data" / "audio" / "x.flac").exists()
        assert pressure_alarm(store, full=True, unacked_bytes=5)
        (alarm,) = [a for a in store.db["audit_log"].rows if a["action"] == "disk.pressure"]
        assert json.loads(alarm["detail"]) == {"unacked_bytes": 5}
    finally:
        store.close()


def test_a_collector_database_from_before_tls_gains_its_columns(tmp_path: Path) -> None:
    """An existing central.db keeps its boxes and gains the pin and the list of replaced
    certificates by itself."""
    from courtbox.central.collector import DB_NAME

    old = sqlite3.connect(tmp_path / DB_NAME)
    old.execute("CREATE TABLE boxes (url TEXT PRIMARY KEY, token TEXT NOT NULL, fingerprint"
                " TEXT NOT NULL, box_id TEXT UNIQUE, algorithm TEXT, public_key TEXT, cursor"
                " INTEGER NOT NULL DEFAULT 0, heartbeat TEXT, last_pull TEXT, last_error"
                " TEXT, blocked TEXT, added_at TEXT NOT NULL)")
    old.execute("INSERT INTO boxes (url, token, fingerprint, added_at) VALUES"
                " ('https://box-1:8443', 't', 'f', '2026-01-01T00:00:00Z')")
    old.commit()
    old.close()
    store = CentralStore(tmp_path)
    try:
        (box,) = store.boxes()
    finally:
        store.close()
    assert box["tls_certificate"] is None and box["retired_certificates"] == "[]"
