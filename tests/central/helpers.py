"""What the centre's tests share: boxes recording, enrolled at a test's centre, a slow or
hostile TLS proxy between them, and reading what each side holds."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import subprocess
import threading
import time
from pathlib import Path

from courtbox.record.identity import open_store
from tests.conftest import RunningAgent, courtbox_cmd, run_courtbox


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


def enroll(agent: RunningAgent, centre, url: str | None = None) -> None:
    """``courtbox sync enroll`` on the box, and the ``add-box`` line it prints run at the
    centre."""
    out = run_courtbox("sync", "enroll", "central", "--url", url or agent.url, "--config",
                       str(agent.config)).stdout
    add = out.strip().splitlines()[-1].split()
    assert add[:3] == ["courtbox", "central", "add-box"]
    run_courtbox(*add[1:], "--config", str(centre.config))


def central(centre, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``courtbox central ARGS --config <the test's centre>``."""
    return run_courtbox("central", *args, "--config", str(centre.config), check=check)


def box_read(agent: RunningAgent, fn):
    store = open_store(agent.data)
    try:
        return fn(store)
    finally:
        store.close()


def box_acks(agent: RunningAgent) -> tuple[int, int]:
    """(acked seq, audio files not acknowledged) on the box."""
    return box_read(agent, lambda s: (
        s.db.execute("SELECT COALESCE(MAX(acked_seq), 0) FROM collectors").fetchone()[0],
        s.db.execute("SELECT COUNT(*) FROM audio_segments WHERE sha256 NOT IN"
                     " (SELECT sha256 FROM blob_acks)").fetchone()[0]))


def box_id(agent: RunningAgent) -> str:
    return box_read(agent, lambda s: s.identity.box_id)


def assert_audio_at_centre(agent: RunningAgent, centre) -> None:
    """Every audio file of the box is in the bucket, byte for byte, under its sha256, and
    recorded once in the database."""
    from courtbox.central.objects import object_key

    s3 = centre.s3()
    for seg in box_read(agent, lambda s: [x for h in s.hearings()
                                          for x in s.segments(h["id"])]):
        data = s3.get_object(Bucket=centre.bucket, Key=object_key(seg["sha256"]))["Body"].read()
        assert hashlib.sha256(data).hexdigest() == seg["sha256"]
        assert data == (agent.data / seg["path"]).read_bytes()
        assert centre.sql("SELECT COUNT(*) FROM objects WHERE sha256 = %s",
                          [seg["sha256"]]) == [(1,)]


def parts(centre) -> list[Path]:
    return list((centre.spool / "parts").glob("*.part"))


def collector_inside_a_download(centre, *extra: str) -> subprocess.Popen:
    """``courtbox central run --once``, returned once it has 20 kB of an audio file."""
    run = subprocess.Popen([*courtbox_cmd(), "central", "run", "--once", "--config",
                            str(centre.config), *extra], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size > 20_000 for p in parts(centre)):
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
