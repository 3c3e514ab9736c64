"""The centre pulling real boxes: ``courtbox run`` agents on loopback, ``courtbox central
run`` as the collector, real recorded audio, real HTTP and TLS, into a real PostgreSQL and
a real S3 store (SeaweedFS) with Object Lock.

Shown here: records and audio arrive byte-identical, verified and exactly once; a replayed
or reordered batch changes nothing; a byte changed on the box (in a file or a row) is
quarantined and reported with box, hearing and record, and never acknowledged; a collector
killed with SIGKILL in the middle of a download resumes it; a box killed mid-serve loses
nothing; a man in the middle gets no token; retention on the box releases only what the
centre acknowledged; discovery follows a box and ignores a rogue.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import signal
import sqlite3
import ssl
import time
from pathlib import Path

import httpx
import pytest

from courtbox.central.collector import Collector, PullReport
from tests.central.helpers import (
    SlowProxy,
    assert_audio_at_centre,
    box_acks,
    box_id,
    box_read,
    central,
    collector_inside_a_download,
    enroll,
    own_certificate,
    parts,
    record_hearing,
)
from tests.conftest import RunningAgent, run_courtbox


@pytest.fixture()
def boxes(tmp_path: Path, cache_dir: Path):
    agents = [RunningAgent(tmp_path / f"box{i}", transcribe=False,
                           extra_config="[sync]\nadvertise = false\nretention_days = 0\n")
              for i in range(2)]
    yield agents
    for a in agents:
        a.stop()


def held_entries(centre, bid: str) -> list[tuple]:
    return centre.sql("SELECT seq, sha256, body_text, signature FROM entries"
                      " WHERE box_id = %s ORDER BY seq", [bid])


def test_two_boxes_arrive_at_the_centre_verified_and_exactly_once(boxes, centre) -> None:
    for n, agent in enumerate(boxes):
        record_hearing(agent, f"(2026)京0105民初{n}号")
        enroll(agent, centre)
    out = central(centre, "run", "--once").stdout
    assert out.count("0 quarantined; ok") == 2, out

    for n, agent in enumerate(boxes):
        entries = box_read(agent, lambda s: s.outbox(0, 100000))
        assert [(e.seq, e.sha256, e.body, e.signature) for e in entries] == held_entries(
            centre, box_id(agent))
        assert_audio_at_centre(agent, centre)
        assert box_acks(agent) == (entries[-1].seq, 0)  # every entry, every audio file
        # The hearing is a row to search by case number, court and date.
        (case, court), = centre.sql("SELECT case_number, court FROM hearings WHERE box_id"
                                    " = %s", [box_id(agent)])
        assert case == f"(2026)京0105民初{n}号" and court
        assert centre.sql("SELECT COUNT(*) FROM hearings WHERE case_number = %s AND"
                          " state = 'closed' AND created_at > now() - interval '1 hour'",
                          [case]) == [(1,)]

    # Again: nothing new, nothing twice.
    before = centre.sql("SELECT COUNT(*) FROM entries")
    out = central(centre, "run", "--once").stdout
    assert out.count(": 0 records, 0 blobs") == 2, out
    assert centre.sql("SELECT COUNT(*) FROM entries") == before
    status = json.loads(central(centre, "status", "--json").stdout)
    assert len(status["boxes"]) == 2 and status["quarantine"] == []
    for b in status["boxes"]:
        hb = b["heartbeat"]
        assert hb["version"] and hb["recording"] is False and "hours_left" in hb["disk"]
        assert hb["sync"]["lag_records"] == 0 and hb["sync"]["lag_bytes"] == 0
        assert b["collector"] is None  # every lease given back
    assert centre.sql("SELECT COUNT(*) FROM heartbeats") == [(2,)]  # history, one per 300 s


def test_a_replayed_and_reordered_batch_changes_nothing(boxes, centre) -> None:
    agent = boxes[0]
    record_hearing(agent, "replay")
    enroll(agent, centre)
    central(centre, "run", "--once")
    store = centre.store()
    try:
        (box,) = store.boxes()
        token = {"Authorization": f"Bearer {box['token']}"}
        batch = httpx.get(f"{agent.url}/api/v1/sync/changes", headers=token,
                          params={"after": 0, "limit": 5000},
                          verify=agent.verify).json()["entries"]
        before = centre.sql("SELECT COUNT(*) FROM entries")[0][0]
        store.update_box(box["url"], cursor=0)  # as if the acknowledgement had been lost
        (box,) = store.boxes()
        shuffled = list(reversed(batch)) + batch[:3]

        async def take() -> None:
            async with httpx.AsyncClient(verify=agent.verify) as client:
                await Collector(store)._take(client, box, token, shuffled,
                                             PullReport(box["url"]))

        asyncio.run(take())
        after = centre.sql("SELECT COUNT(*) FROM entries")[0][0]
        assert after == before == len(batch)
        assert store.quarantined() == []
        assert store.boxes()[0]["cursor"] == batch[-1]["seq"]
        # The same batch committed again, as a second collector would: nothing twice.
        segments = [e for e in batch if e["kind"] == "audio_segment"]
        assert store.commit_batch(box, batch, [], batch[-1]["seq"], "another") == 0
        assert centre.sql("SELECT COUNT(*) FROM entries") == [(len(batch),)]
        assert centre.sql("SELECT COUNT(*) FROM box_objects") == [(len(segments),)]
    finally:
        store.close()


def test_a_changed_byte_on_the_box_is_quarantined_and_never_acknowledged(
        boxes, centre) -> None:
    agent = boxes[0]
    record_hearing(agent, "clean")
    enroll(agent, centre)
    central(centre, "run", "--once")
    acked_before = box_acks(agent)[0]

    # A second hearing, one byte of its last audio file changed on the box (its first
    # file holds the same bytes as the first hearing's, which the centre already has).
    hid = record_hearing(agent, "tampered", seconds=8)
    seg = box_read(agent, lambda s: s.segments(hid))[-1]
    path = agent.data / seg["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    r = central(centre, "run", "--once", check=False)
    assert r.returncode == 1 and "1 quarantined" in r.stdout
    status = json.loads(central(centre, "status", "--json").stdout)
    (q,) = status["quarantine"]
    assert q["hearing_id"] == hid and q["kind"] == "audio_segment"
    assert q["record_id"] == seg["id"] and "does not match its sha256" in q["reason"]
    assert q["box_id"] == box_id(agent)
    assert status["boxes"][0]["blocked"].startswith(f"seq {q['seq']}")
    text = central(centre, "status").stdout
    assert f"QUARANTINED box {q['box_id']} hearing {hid} seq {q['seq']}" in text
    # Nothing from the bad entry on is stored or acknowledged; the file never arrived.
    assert centre.sql("SELECT COUNT(*) FROM entries WHERE seq >= %s", [q["seq"]]) == [(0,)]
    assert not centre.sql("SELECT 1 FROM objects WHERE sha256 = %s", [seg["sha256"]])
    from courtbox.central.objects import object_key
    listed = centre.s3().list_objects_v2(Bucket=centre.bucket, Prefix=object_key(
        seg["sha256"]))
    assert listed.get("KeyCount", 0) == 0
    acked = box_acks(agent)[0]
    assert acked_before <= acked < q["seq"]
    # Running again changes nothing and reports it once.
    central(centre, "run", "--once", check=False)
    assert len(json.loads(central(centre, "status", "--json").stdout)["quarantine"]) == 1


def test_an_altered_row_is_quarantined(boxes, centre) -> None:
    agent = boxes[1]
    hid = record_hearing(agent, "(2026)京0105民初5号")
    enroll(agent, centre)
    conn = sqlite3.connect(agent.data / "courtbox.db")
    conn.execute("UPDATE outbox SET body = replace(body, '民初5号', '民初6号')"
                 " WHERE kind = 'hearing' AND hearing_id = ?", [hid])
    conn.commit()
    conn.close()
    r = central(centre, "run", "--once", check=False)
    assert r.returncode == 1
    (q,) = json.loads(central(centre, "status", "--json").stdout)["quarantine"]
    assert q["hearing_id"] == hid and q["kind"] == "hearing"
    assert "body does not match its sha256" in q["reason"]
    assert centre.sql("SELECT COUNT(*) FROM hearings") == [(0,)]


def test_a_collector_killed_mid_download_resumes_it(boxes, centre) -> None:
    agent = boxes[0]
    record_hearing(agent, "slow", seconds=8)
    proxy = SlowProxy(agent.url, rate=60_000, certificate=own_certificate(agent))
    try:
        enroll(agent, centre, url=proxy.url)
        run = collector_inside_a_download(centre)
        run.send_signal(signal.SIGKILL)
        run.wait()
        have = parts(centre)[0].stat().st_size
        assert have > 0
        assert centre.sql("SELECT COUNT(*) FROM entries") == [(0,)]
        # Its lease outlives it: the next collector waits for it to expire.
        proxy.requests.clear()
        central(centre, "run", "--once")
        asked = b"".join(proxy.requests)
        assert f"range: bytes={have}-".encode() in asked.lower()
    finally:
        proxy.close()
    entries = box_read(agent, lambda s: s.outbox(0, 100000))
    assert centre.sql("SELECT COUNT(*) FROM entries") == [(len(entries),)]
    assert_audio_at_centre(agent, centre)
    assert not parts(centre)
    assert box_acks(agent) == (entries[-1].seq, 0)


def test_a_man_in_the_middle_gets_no_token_and_a_renewed_certificate_is_pinned(
        boxes, centre, tmp_path: Path) -> None:
    """A proxy that ends TLS with a certificate of its own and relays the box's genuine
    identity: the collector learns the certificate the box's key signed, refuses the
    proxy's and sends it no token. A certificate the box has renewed (signed by the same
    key) is pinned in place of the old one; one the key did not sign, never, and one it
    replaced, never again."""
    from courtbox.central.pinning import trusted_certificate
    from courtbox.errors import TlsError
    from courtbox.record.chain import certificate_sha256
    from courtbox.sync.tls import box_certificate

    agent = boxes[1]
    record_hearing(agent, "mitm", seconds=2)
    rogue = box_certificate(tmp_path / "rogue", "rogue")
    proxy = SlowProxy(agent.url, rate=10**9, certificate=(rogue.cert_path, rogue.key_path))
    try:
        enroll(agent, centre, url=proxy.url)
        run = central(centre, "run", "--once", check=False)
        assert run.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in run.stdout
        assert "no token sent" in run.stdout
        asked = b"".join(proxy.requests).lower()
        assert b"get /api/v1/sync/identity" in asked and b"authorization" not in asked
    finally:
        proxy.close()
    assert centre.sql("SELECT COUNT(*) FROM entries") == [(0,)]
    assert centre.sql("SELECT tls_certificate FROM boxes") == [(agent.cert.read_text(),)]

    # Reached directly, with an older certificate pinned: the box's current one, signed
    # by its key, takes the pin's place and the pull goes through.
    centre.sql("UPDATE boxes SET url = %s, tls_certificate = %s RETURNING id",
               [agent.url, rogue.pem.decode()])
    central(centre, "run", "--once")
    assert centre.sql("SELECT tls_certificate FROM boxes") == [(agent.cert.read_text(),)]
    entries = box_read(agent, lambda s: s.outbox(0, 100000))
    assert centre.sql("SELECT COUNT(*) FROM entries") == [(len(entries),)]
    assert centre.sql("SELECT sha256 FROM retired_certificates") == [
        (certificate_sha256(rogue.pem),)]

    # The other way round: a certificate the box's key signed and that the collector has
    # seen replaced (the box's current one stands in for it) is never pinned again, so
    # whoever stole an old TLS key cannot replay the box's old identity.
    current = certificate_sha256(agent.cert.read_bytes())
    centre.sql("UPDATE boxes SET tls_certificate = %s RETURNING id", [rogue.pem.decode()])
    centre.sql("INSERT INTO retired_certificates (box, sha256) SELECT id, %s FROM boxes"
               " RETURNING box", [current])
    run = central(centre, "run", "--once", check=False)
    assert run.returncode == 1 and "has since replaced" in run.stdout, run.stdout
    assert "no token sent" in run.stdout
    assert centre.sql("SELECT tls_certificate FROM boxes") == [(rogue.pem.decode(),)]

    ident = httpx.get(f"{agent.url}/api/v1/sync/identity", verify=agent.verify).json()
    shown = run_courtbox("identity", "--config", str(agent.config)).stdout  # for the court's IT
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


def test_retention_releases_only_acknowledged_audio_of_closed_hearings(boxes, centre
                                                                       ) -> None:
    agent = boxes[1]
    closed = record_hearing(agent, "closed")
    enroll(agent, centre)
    central(centre, "run", "--once")
    paused = record_hearing(agent, "paused, acknowledged", close=False)
    central(centre, "run", "--once")
    later = record_hearing(agent, "closed, not yet acknowledged")

    out = run_courtbox("sync", "release", "--config", str(agent.config)).stdout
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
    verify = run_courtbox("verify", "--json", "--config", str(agent.config)).stdout
    report = {h["hearing_id"]: h for h in json.loads(verify)["hearings"]}
    assert report[closed]["ok"] and report[closed]["released"] == len(closed_segments)


def test_a_box_killed_mid_serve_and_a_cut_connection_lose_nothing(boxes, centre,
                                                                  tmp_path: Path) -> None:
    agent = boxes[0]
    record_hearing(agent, "cut", seconds=8)
    proxy = SlowProxy(agent.url, rate=60_000, certificate=own_certificate(agent))
    try:
        enroll(agent, centre, url=proxy.url)
        run = collector_inside_a_download(centre)
        agent.proc.send_signal(signal.SIGKILL)  # the box dies in the middle of a blob
        out, _ = run.communicate(timeout=120)
        assert run.returncode == 1 and "error" in out  # reported, nothing half-stored
        restarted = RunningAgent(tmp_path / "again", transcribe=False, data=agent.data,
                                 extra_config="[sync]\nadvertise = false\n")
        try:
            proxy.retarget(restarted.url)
            central(centre, "run", "--once")
            entries = box_read(restarted, lambda s: s.outbox(0, 100000))
            held = centre.sql("SELECT seq, sha256 FROM entries ORDER BY seq")
            assert held == [(e.seq, e.sha256) for e in entries]
            assert_audio_at_centre(restarted, centre)
        finally:
            restarted.stop()
    finally:
        proxy.close()


def test_discovery_finds_boxes_and_ignores_a_rogue_responder(tmp_path: Path, centre,
                                                             cache_dir: Path) -> None:
    """Real mDNS on loopback: the agent announces itself; the collector's browser records
    it, follows a box it knows to its announced address, and does not follow an announcer
    that uses the box's id with another key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from courtbox.record.identity import Ed25519Signer, Identity
    from courtbox.sync.discovery import Advertiser, BoxBrowser

    agent = RunningAgent(tmp_path / "box", transcribe=False)  # sync.advertise: default on
    store = centre.store()
    rogue = browser = None
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
        browser = None
        (found,) = [(d["box_id"], d["court"], d["room"]) for d in store.discovered()]
        assert found == (ident.box_id, "示例人民法院", "第一科技法庭")
    finally:
        if browser is not None:
            browser.close()
        if rogue is not None:
            rogue.close()
        store.close()
        agent.stop()
