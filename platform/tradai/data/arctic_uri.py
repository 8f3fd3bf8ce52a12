"""The ArcticDB URI from settings, in order of precedence:

1. ``TRADAI_ARCTICDB_URI`` as given (``lmdb:///path`` for unit tests, any ``s3://`` form);
2. ``AWS_ENDPOINT_URL_S3`` (else ``AWS_ENDPOINT_URL``) + ``TRADAI_BUCKET_ARCTICDB``: an
   S3-compatible endpoint (the cloud's emulator, MinIO):
   ``s3://HOST:BUCKET?access=..&secret=..&port=..&region=..`` (``s3s://`` for https; host and
   bucket are separated by a colon, the port is a query parameter);
3. AWS itself: ``s3s://s3.<region>.amazonaws.com:BUCKET?aws_auth=true`` (task role creds).
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from tradai.data.settings import DataSettings


class StoreNotConfigured(ValueError):
    pass


def arctic_uri(s: DataSettings) -> str:
    if s.arcticdb_uri:
        return s.arcticdb_uri
    if not s.arcticdb_bucket:
        raise StoreNotConfigured(
            "no ArcticDB location: set TRADAI_ARCTICDB_URI or TRADAI_BUCKET_ARCTICDB")
    params: list[str] = []
    if s.aws_endpoint_url:
        url = urlsplit(s.aws_endpoint_url)
        scheme = "s3s" if url.scheme == "https" else "s3"
        host = url.hostname or "localhost"
        port = url.port or (443 if scheme == "s3s" else 80)
        if s.aws_access_key_id and s.aws_secret_access_key:
            params += [f"access={quote(s.aws_access_key_id, safe='')}",
                       f"secret={quote(s.aws_secret_access_key, safe='')}"]
        else:
            params.append("aws_auth=true")
        params += [f"port={port}", f"region={s.aws_region}"]
    else:
        scheme, host = "s3s", f"s3.{s.aws_region}.amazonaws.com"
        params += ["aws_auth=true", f"region={s.aws_region}"]
    if s.arcticdb_path_prefix:
        params.append(f"path_prefix={quote(s.arcticdb_path_prefix, safe='')}")
    return f"{scheme}://{host}:{s.arcticdb_bucket}?{'&'.join(params)}"


def redact(uri: str) -> str:
    """The URI without its secret, for logs and API answers."""
    head, _, query = uri.partition("?")
    if not query:
        return uri
    kept = [p if not p.startswith(("secret=", "access=")) else p.split("=")[0] + "=***"
            for p in query.split("&")]
    return f"{head}?{'&'.join(kept)}"
