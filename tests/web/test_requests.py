"""Malformed requests are 4xx with a reason, never 500, and write nothing: positions of
any length in ``Range`` (RFC 9110: 416 with ``Content-Range: bytes */LEN``, for the
hearing's audio and the sync blobs alike, one parser), an empty suffix range, a
``Content-Length`` of any length, integers of any length in queries, and JSON bodies with
non-finite numbers, lone surrogates, invalid UTF-8 or deep nesting, on every route that
takes a body (one strict parser, ``courtbox.web.limits``)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from courtbox.config import load_config
from courtbox.record import users
from courtbox.record.hearing import HearingInfo, open_hearing
from courtbox.web.app import create_app
from tests.conftest import PASSWORD

API = "/api/v1"
HUGE = "9" * 5000  # past Python's 4300-digit int() limit
LONG = "99999999999999999999999"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[dict]:
    """An app with the sync API mounted, a hearing with one archived FLAC segment and a
    final line ``u1``, an admin's session and an enrolled collector's token."""
    from courtbox.appliance.service import mount_sync
    from courtbox.sync.collectors import enroll

    data = tmp_path / "data"
    app = create_app(data)
    api = app.state.api
    mount_sync(app, identity=api.writer.store.identity, certificate=None, data_dir=data)
    config = load_config("/dev/null", data_dir=data)
    flac = data / "audio" / "seg.flac"
    flac.parent.mkdir(parents=True)
    sf.write(flac, np.arange(16000, dtype="int16").reshape(-1, 1) % 300, 16000)
    sha = hashlib.sha256(flac.read_bytes()).hexdigest()

    def prepare(s) -> dict:
        users.add_user(s, "admin1", "admin", PASSWORD, actor="test")
        token, _ = users.login(s, "admin1", PASSWORD)
        hid = open_hearing(s, config, HearingInfo(case_number="(2026)京0105民初7号"),
                           actor="test", sample_rate=16000)
        s.add_segment({"id": f"{hid}:1:0", "hearing_id": hid, "part": 1, "idx": 0,
                       "path": "audio/seg.flac", "start_sample": 0, "frames": 16000,
                       "sample_rate": 16000, "channels": 1, "sha256": sha,
                       "prev_sha256": None})
        s.add_final(hearing_id=hid, utterance_id="u1", seat="plaintiff", t0=0.1, t1=0.9,
                    text="原告请求", words=[], avg_logprob=-0.2)
        return {"hid": hid, "token": token,
                "collector": enroll(s, "central-1", actor="test")}

    with TestClient(app, raise_server_exceptions=False) as client:
        parts = api.write(prepare)
        client.headers["Authorization"] = f"Bearer {parts['token']}"
        yield {**parts, "client": client, "sha": sha, "flac": flac.read_bytes(),
               "api": api}


def counts(api) -> tuple[int, ...]:
    return api.read(lambda s: tuple(s.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                                    for t in ("audit_log", "outbox", "annotations",
                                              "hearings", "users", "transcript")))


UNSATISFIABLE = [f"bytes={LONG}-", f"bytes={HUGE}-", f"bytes={LONG}-{LONG}",
                 f"bytes={HUGE}-{HUGE}", "bytes=-0", "bytes=-00", "bytes=5-3",
                 f"bytes={LONG}-3", "bytes=0-1,4-5", "items=0-1", "bytes=-", "bytes=x-1",
                 "bytes=0x10-", "bytes=1-2-3"]


@pytest.mark.parametrize("where", ["audio", "blob"])
def test_a_range_that_cannot_be_satisfied_is_416_with_the_length(served, where) -> None:
    """Each is 416 with ``Content-Range: bytes */LEN`` (before: 5000 digits were a 500,
    and ``bytes=-0`` a 206 with ``bytes LEN-(LEN-1)/LEN``)."""
    client = served["client"]
    url, auth = ((f"{API}/hearings/{served['hid']}/audio", {}) if where == "audio" else
                 (f"{API}/sync/blobs/{served['sha']}",
                  {"Authorization": f"Bearer {served['collector']}"}))
    size = int(client.get(url, headers=auth).headers["content-length"])
    for header in UNSATISFIABLE:
        r = client.get(url, headers={**auth, "Range": header})
        assert r.status_code == 416, (header[:40], r.status_code, r.text[:200])
        assert r.headers["content-range"] == f"bytes */{size}", header[:40]
        assert r.json()["detail"], header[:40]


@pytest.mark.parametrize("where", ["audio", "blob"])
def test_a_satisfiable_range_is_206_with_exactly_those_bytes(served, where) -> None:
    client = served["client"]
    url, auth = ((f"{API}/hearings/{served['hid']}/audio", {}) if where == "audio" else
                 (f"{API}/sync/blobs/{served['sha']}",
                  {"Authorization": f"Bearer {served['collector']}"}))
    whole = client.get(url, headers=auth).content
    size = len(whole)
    if where == "blob":
        assert whole == served["flac"]
    for header, (first, last) in {"bytes=0-0": (0, 0), "bytes=10-": (10, size - 1),
                                  f"bytes=10-{LONG}": (10, size - 1),
                                  f"bytes=10-{HUGE}": (10, size - 1),
                                  "bytes=-1": (size - 1, size - 1),
                                  f"bytes=-{HUGE}": (0, size - 1),
                                  " Bytes = 00007 - 00009 ": (7, 9)}.items():
        r = client.get(url, headers={**auth, "Range": header})
        assert r.status_code == 206, (header[:40], r.status_code, r.text[:200])
        assert r.headers["content-range"] == f"bytes {first}-{last}/{size}", header[:40]
        assert r.content == whole[first:last + 1], header[:40]


def test_a_content_length_of_any_length_is_refused_with_a_reason(served) -> None:
    """Before: 5000 digits were a 500 (Python's int() digit limit)."""
    client, hid = served["client"], served["hid"]
    before = counts(served["api"])
    for length, status in {HUGE: 413, LONG: 413, "12a": 400, "-1": 400, "1e3": 400}.items():
        r = client.post(f"{API}/hearings/{hid}/annotations", content=b'{"label":"x"}',
                        headers={"Content-Type": "application/json",
                                 "Content-Length": length})
        assert r.status_code == status, (length[:30], r.status_code, r.text[:200])
        assert r.json()["detail"]
    assert counts(served["api"]) == before


def test_query_integers_of_any_length_are_422(served) -> None:
    client, hid = served["client"], served["hid"]
    sync = {"Authorization": f"Bearer {served['collector']}"}
    for url, headers in [(f"{API}/hearings/{hid}/transcript?after={HUGE}", {}),
                         (f"{API}/hearings/{hid}/transcript?limit={LONG}", {}),
                         (f"{API}/hearings/{hid}/transcript?offset=-{HUGE}", {}),
                         (f"{API}/sync/changes?after={HUGE}", sync),
                         (f"{API}/sync/changes?after={LONG}", sync),
                         (f"{API}/sync/changes?limit=NaN", sync)]:
        r = client.get(url, headers=headers)
        assert r.status_code == 422, (url[:80], r.status_code, r.text[:200])


BAD_BODIES = {
    "NaN": b'{"label":"x","t":NaN}',
    "Infinity": b'{"label":"x","t":Infinity}',
    "-Infinity": b'{"label":"x","t":-Infinity}',
    "1e999": b'{"label":"x","t":1e999}',
    "lone high surrogate": b'{"label":"x\\ud800"}',
    "lone low surrogate": b'{"label":"x","text":"\\udc00y"}',
    "surrogate key": b'{"\\ud800":"x"}',
    "invalid UTF-8": b'{"label":"\xed\xa0\x80"}',
    "5000 digits": b'{"label":"x","t":1' + b"0" * 5000 + b"}",
    "deep": b"[" * 100000,
    "deep, closed": b'{"label":"x","text":' + b"[" * 40 + b"]" * 40 + b"}",
}


@pytest.mark.parametrize("route", ["annotations", "corrections", "hearings", "session",
                                   "users", "pause", "ack"])
def test_a_json_body_the_strict_parser_refuses_is_422_and_writes_nothing(served, route
                                                                        ) -> None:
    """Before: NaN, Infinity, 1e999 and lone surrogates were 500s (the validation error
    could not be written back, or the row could not be stored)."""
    client, hid = served["client"], served["hid"]
    url = {"annotations": f"{API}/hearings/{hid}/annotations",
           "corrections": f"{API}/hearings/{hid}/transcript/u1/corrections",
           "hearings": f"{API}/hearings", "session": f"{API}/session",
           "users": f"{API}/users", "pause": f"{API}/hearings/{hid}/pause",
           "ack": f"{API}/sync/ack"}[route]
    headers = ({"Authorization": f"Bearer {served['collector']}"} if route == "ack"
               else {})
    before = counts(served["api"])
    for what, body in BAD_BODIES.items():
        for kind in ("application/json", None):
            r = client.post(url, content=body, headers={
                **headers, **({"Content-Type": kind} if kind else {})})
            assert r.status_code == 422, (route, what, kind, r.status_code, r.text[:200])
            assert "body" in r.json()["detail"], (route, what, r.text[:200])
    assert counts(served["api"]) == before


def test_the_validation_error_of_an_odd_field_is_written_back(served) -> None:
    """A field the model refuses is 422 naming the field, whatever its value held."""
    client, hid = served["client"], served["hid"]
    r = client.post(f"{API}/hearings/{hid}/annotations",
                    json={"label": "x", "t": 10 ** 30})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "t"]
    r = client.post(f"{API}/hearings/{hid}/annotations", json={"label": "好" * 41})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "label"]
