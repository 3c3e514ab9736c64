"""``/api/v1/audio/{sha256}``: a hearing's audio segment (FLAC, as the box recorded it)
streamed from the object store with HTTP Range (``get_object`` with ``Range``), or a
presigned URL of it for the court's systems that reach the store. Only objects that are a
stored hearing's segment are served; every fetch and every link is audited (who, which
segment of which hearing, which bytes)."""

from __future__ import annotations

import re

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import StreamingResponse

from courtbox.central.objects import object_key
from courtbox.central.web import accounts
from courtbox.central.web.deps import API, Web, client_of, need, web_of
from courtbox.central.web.errors import ERRORS, ErrorBody, Refused
from courtbox.central.web.models import AudioLink

router = APIRouter(prefix=API, tags=["e-case file"], responses=ERRORS)
SHA256 = Path(pattern=r"^[0-9a-f]{64}$", description="The segment's SHA-256.")
RANGE = re.compile(r"bytes=(\d*)-(\d*)")
LINK_S = 300
CHUNK = 256 << 10


def _segment(web: Web, sha256: str) -> dict:
    with web.db() as conn:
        row = conn.execute(
            "SELECT o.size, bo.box_id, bo.hearing_id FROM objects o JOIN box_objects bo"
            " USING (sha256) WHERE o.sha256 = %s AND bo.hearing_id IS NOT NULL LIMIT 1",
            [sha256]).fetchone()
    if row is None:
        raise Refused(404, f"no audio segment {sha256}", message="没有这段音频")
    return {"size": row[0], "box_id": row[1], "hearing_id": row[2]}


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) of a single ``bytes=`` range, None for the whole; 416 otherwise."""
    if header is None:
        return None
    m = RANGE.fullmatch(header.strip())
    if not m or not (m[1] or m[2]):
        raise Refused(416, f"not a single byte range: {header[:100]!r}",
                      headers={"Content-Range": f"bytes */{size}"})
    if m[1]:
        first, last = int(m[1]), min(int(m[2]) if m[2] else size - 1, size - 1)
    else:
        first, last = max(0, size - int(m[2])), size - 1
    if first > last or first >= size:
        raise Refused(416, f"range {header[:100]!r} is outside the {size} bytes",
                      headers={"Content-Range": f"bytes */{size}"})
    return first, last


def _audit(web: Web, request: Request, user: dict, action: str, sha256: str, seg: dict,
           **detail) -> None:
    with web.db() as conn:
        accounts.audit(conn, user["name"], action, client=client_of(request), target=sha256,
                       box_id=seg["box_id"], hearing_id=seg["hearing_id"], **detail)


@router.get("/audio/{sha256}", response_class=StreamingResponse,
            responses={200: {"content": {"audio/flac": {}}},
                       206: {"content": {"audio/flac": {}}, "description": "A range."},
                       416: {"model": ErrorBody}})
def audio(request: Request, sha256: str = SHA256,
          range_: str | None = Header(None, alias="range", max_length=200),
          user: dict = need("audio")) -> StreamingResponse:
    """One audio segment of a hearing, FLAC, with HTTP Range; audited."""
    web = web_of(request)
    seg = _segment(web, sha256)
    span = byte_range(range_, seg["size"])
    first, last = span or (0, seg["size"] - 1)
    store = web.store.objects
    try:
        got = store.s3.get_object(Bucket=store.bucket, Key=object_key(sha256),
                                  **({"Range": f"bytes={first}-{last}"} if span else {}))
    except (ClientError, BotoCoreError) as e:
        raise Refused(503, f"the object store did not answer for {sha256}: {e}",
                      message="音频存储暂时不可用") from e
    _audit(web, request, user, "audio.fetch", sha256, seg, first=first, last=last)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1),
               "Cache-Control": "private, no-store"}
    if span:
        headers["Content-Range"] = f"bytes {first}-{last}/{seg['size']}"

    def chunks():
        try:
            yield from got["Body"].iter_chunks(CHUNK)
        finally:
            got["Body"].close()

    return StreamingResponse(chunks(), 206 if span else 200, headers=headers,
                             media_type="audio/flac")


@router.get("/audio/{sha256}/link", response_model=AudioLink)
def audio_link(request: Request, sha256: str = SHA256,
               user: dict = need("audio")) -> AudioLink:
    """A presigned URL of the segment in the object store, valid five minutes; audited."""
    web = web_of(request)
    seg = _segment(web, sha256)
    store = web.store.objects
    url = store.s3.generate_presigned_url(
        "get_object", Params={"Bucket": store.bucket, "Key": object_key(sha256)},
        ExpiresIn=LINK_S)
    _audit(web, request, user, "audio.link", sha256, seg, expires_in_s=LINK_S)
    return AudioLink(url=url, expires_in_s=LINK_S)
