"""The audio in an S3-compatible object store, through the S3 API alone (boto3), so that a
court can use what it runs: Ceph RGW, SeaweedFS, MinIO, a cloud's.

- Keys are content addresses: ``audio/sha256/<aa>/<sha256>.flac``. The same bytes from two
  boxes, or sent twice, are one object; a second PUT of them only adds an identical version.
- Every PUT carries the file's SHA-256 (``ChecksumSHA256``): the store itself computes it
  over what arrived and refuses the object (``BadDigest``) if a byte differs.
- The bucket is created with Object Lock (which turns versioning on) and a default
  retention in COMPLIANCE mode of ``retention_years``; every PUT also names that retention,
  so an object is locked even in a bucket made by hand without a default. Until then no
  one, the store's own operators included, can delete the version or shorten its
  retention; an overwrite adds a version and leaves the locked one as it is.
- A case under appeal gets a legal hold on every version of its objects
  (``courtbox central hold``), which keeps them past their retention until released.

The lock is only as strong as the store's S3 API: whoever reaches a store's internal ports
(SeaweedFS's master, volume and filer) can go around it (docs/central.md).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from courtbox.errors import CourtboxError


class ObjectStoreError(CourtboxError):
    """The object store refused or could not be reached."""


def object_key(sha256: str) -> str:
    return f"audio/sha256/{sha256[:2]}/{sha256}.flac"


def checksum(sha256: str) -> str:
    """The SHA-256 as S3 wants it: base64 of the 32 bytes."""
    return base64.b64encode(bytes.fromhex(sha256)).decode("ascii")


class ObjectStore:
    """One bucket of one S3 endpoint; ``settings`` is the ``[objects]`` section."""

    def __init__(self, settings, *, max_pool: int = 16) -> None:
        self.bucket = settings.bucket
        self.retention_years = settings.retention_years
        self.s3 = boto3.session.Session().client(
            "s3", endpoint_url=settings.endpoint or None, region_name=settings.region,
            aws_access_key_id=settings.access_key or None,
            aws_secret_access_key=settings.secret_key or None,
            verify=settings.ca_bundle or None,
            config=Config(s3={"addressing_style": settings.addressing},
                          retries={"max_attempts": 3, "mode": "standard"},
                          connect_timeout=10, read_timeout=120,
                          max_pool_connections=max_pool))

    def _call(self, what: str, fn, **kwargs):
        try:
            return fn(**kwargs)
        except ClientError as e:
            err = e.response.get("Error", {})
            raise ObjectStoreError(f"object store refused {what}: {err.get('Code')} "
                                   f"{err.get('Message', '')}".strip()) from e
        except BotoCoreError as e:
            raise ObjectStoreError(f"object store unreachable for {what}: {e}") from e

    def ensure_bucket(self) -> None:
        """The bucket, with Object Lock and its default COMPLIANCE retention."""
        try:
            self.s3.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou",
                                                                 "BucketAlreadyExists"):
                raise ObjectStoreError(f"cannot create bucket {self.bucket}: {e}") from e
        except BotoCoreError as e:
            raise ObjectStoreError(f"object store unreachable: {e}") from e
        self._call("the bucket's Object Lock", self.s3.put_object_lock_configuration,
                   Bucket=self.bucket, ObjectLockConfiguration={
                       "ObjectLockEnabled": "Enabled",
                       "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE",
                                                     "Years": self.retention_years}}})

    def lock_configuration(self) -> dict:
        return self._call("the lock configuration", self.s3.get_object_lock_configuration,
                          Bucket=self.bucket)["ObjectLockConfiguration"]

    def stored(self, sha256: str) -> dict | None:
        """The object of ``sha256`` as the store holds it (its current version, checksum
        checked), or None when there is none."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=object_key(sha256),
                                       ChecksumMode="ENABLED")
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise ObjectStoreError(f"object store refused a look-up: {e}") from e
        except BotoCoreError as e:
            raise ObjectStoreError(f"object store unreachable: {e}") from e
        if head.get("ChecksumSHA256") not in (None, checksum(sha256)):
            return None
        return {"key": object_key(sha256), "size": head["ContentLength"],
                "version_id": head.get("VersionId"),
                "retain_until": head.get("ObjectLockRetainUntilDate")}

    def put(self, sha256: str, path: Path) -> dict:
        """Upload the file of ``sha256``; returns what ``stored`` does once the store has
        confirmed it (its own SHA-256 of what arrived matched)."""
        until = datetime.now(UTC) + timedelta(days=366 * self.retention_years)
        with open(path, "rb") as f:
            r = self._call(f"audio {sha256[:16]}…", self.s3.put_object,
                           Bucket=self.bucket, Key=object_key(sha256), Body=f,
                           ChecksumSHA256=checksum(sha256), ContentType="audio/flac",
                           ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
        if r.get("ChecksumSHA256") not in (None, checksum(sha256)):
            raise ObjectStoreError(f"object store confirmed another checksum for "
                                   f"{sha256[:16]}…: {r.get('ChecksumSHA256')}")
        return {"key": object_key(sha256), "size": Path(path).stat().st_size,
                "version_id": r.get("VersionId"), "retain_until": until}

    def read(self, sha256: str) -> bytes:
        return self._call("a read", self.s3.get_object, Bucket=self.bucket,
                          Key=object_key(sha256))["Body"].read()

    def legal_hold(self, sha256: str, on: bool) -> int:
        """Set (or lift) the legal hold of every version of the object; returns how many."""
        key = object_key(sha256)
        listing = self._call("a version listing", self.s3.list_object_versions,
                             Bucket=self.bucket, Prefix=key)
        versions = [v["VersionId"] for v in listing.get("Versions", []) if v["Key"] == key]
        for version in versions:
            self._call(f"the legal hold of {sha256[:16]}…", self.s3.put_object_legal_hold,
                       Bucket=self.bucket, Key=key, VersionId=version,
                       LegalHold={"Status": "ON" if on else "OFF"})
        return len(versions)

    def close(self) -> None:
        self.s3.close()
