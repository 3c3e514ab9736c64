"""The centre's web service for its tests, once per session: a centre (the session's
PostgreSQL and SeaweedFS) holding one real hearing pulled from a real ``courtbox run`` box
(recorded, paused, resumed, closed; two lines, one corrected; a mark; the judge's
sign-off), its two accounts, and ``courtbox central serve`` running as a real process over
HTTPS with a certificate made for it."""

from __future__ import annotations

import datetime
import ipaddress
import signal
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.central.fixtures import Centre, make_centre
from tests.central.helpers import central, enroll
from tests.conftest import RunningAgent, courtbox_cmd, run_courtbox

PASSWORD = "correct horse battery"
WEB_USERS = {"ops1": ("operations", "王运维"), "arch1": ("archivist", "李档案")}
CASE = "(2026)京0105民初321号"


@dataclass
class Served:
    url: str
    cert: Path
    centre: Centre
    box_id: str
    hearing_id: str

    @property
    def verify(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def client(self, name: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(name)}"} if name else {}
        return httpx.Client(base_url=self.url, verify=self.verify, headers=headers,
                            timeout=60)

    def token(self, name: str) -> str:
        r = httpx.post(f"{self.url}/api/v1/session", json={"name": name, "password":
                                                          PASSWORD}, verify=self.verify)
        r.raise_for_status()
        return r.json()["token"]


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "web.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "web.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return folder / "web.crt", folder / "web.key"


def record_a_hearing(agent: RunningAgent) -> str:
    """A hearing with everything the e-case file shows."""
    from courtbox.record.identity import open_store

    with agent.client("clerk1") as clerk:
        hid = clerk.post("/api/v1/hearings", json={
            "case_number": CASE, "case_type": "民事", "title": "买卖合同纠纷",
            "panel": ["张法官"], "panel_users": ["judge1"], "parties": ["北京甲公司", "王某"],
            "clerk": "李书记"}).json()["id"]
        clerk.post(f"/api/v1/hearings/{hid}/start").raise_for_status()
        time.sleep(6)  # one 5-s segment archived
        clerk.post(f"/api/v1/hearings/{hid}/pause", json={"reason": "recess"}
                   ).raise_for_status()
        clerk.post(f"/api/v1/hearings/{hid}/resume").raise_for_status()
        time.sleep(1)
        clerk.post(f"/api/v1/hearings/{hid}/close").raise_for_status()
        store = open_store(agent.data)  # the recogniser's lines (this box runs without one)
        try:
            for u, seat, t0, text in (("u1", "plaintiff", 1.0, "原告请求判令被告支付货款三万元"),
                                      ("u2", "defendant", 3.0, "被告认为货物质量不合格")):
                store.add_final(hearing_id=hid, utterance_id=u, seat=seat, t0=t0,
                                t1=t0 + 1.5, text=text, words=[], avg_logprob=-0.2)
        finally:
            store.close()
        clerk.post(f"/api/v1/hearings/{hid}/transcript/u2/corrections", json={
            "text": "被告认为货物的质量不合格", "base_revision": 0}).raise_for_status()
        clerk.post(f"/api/v1/hearings/{hid}/annotations", json={
            "label": "重点", "text": "原告陈述诉讼请求", "t": 1.0}).raise_for_status()
    with agent.client("judge1") as judge:
        judge.post(f"/api/v1/hearings/{hid}/signoff").raise_for_status()
    return hid


@pytest.fixture(scope="session")
def served(postgres, seaweed, tmp_path_factory: pytest.TempPathFactory,
           cache_dir: Path) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("central-web")
    centre = make_centre(postgres, seaweed, tmp / "central")
    run_courtbox("central", "migrate", "--config", str(centre.config))
    agent = RunningAgent(tmp / "box", transcribe=False,
                         extra_config="[sync]\nadvertise = false\n")
    proc = None
    try:
        hid = record_a_hearing(agent)
        enroll(agent, centre)
        central(centre, "run", "--once")
        for name, (role, display) in WEB_USERS.items():
            run_courtbox("central", "user", "add", name, "--role", role, "--display-name",
                         display, "--password-stdin", "--config", str(centre.config),
                         input=PASSWORD + "\n")
        cert, key = self_signed(tmp / "tls")
        with centre.config.open("a") as f:
            f.write(f'\n[web]\nport = 0\ntls_cert = "{cert}"\ntls_key = "{key}"\n'
                    "login_failures_max = 3\nlogin_source_failures_max = 200\n")
        proc = subprocess.Popen([*courtbox_cmd(), "central", "serve", "--config",
                                 str(centre.config)], stdout=subprocess.PIPE,
                                stderr=(tmp / "serve.log").open("w"), text=True)
        line = proc.stdout.readline()
        assert "listening on " in line, (tmp / "serve.log").read_text()
        (box_id,), = centre.sql("SELECT box_id FROM hearings WHERE hearing_id = %s", [hid])
        yield Served(line.split("listening on ", 1)[1].strip(), cert, centre, box_id, hid)
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        agent.stop()
        with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {centre.dsn.rsplit('/', 1)[1]} WITH (FORCE)")
