"""Who calls which operation: read from a raw WSGI request as AWS would see it.

- the caller's access key and the service, from SigV4 (``Authorization: AWS4-HMAC-SHA256
  Credential=AKID/DATE/REGION/SERVICE/aws4_request, ...`` or a presigned ``X-Amz-Credential``);
- the operation: ``X-Amz-Target`` (JSON protocols), ``Action`` (query protocols, EC2), the
  path of Smithy RPC v2 CBOR, or the request line matched against the service's HTTP routes
  (REST protocols, from botocore's model).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")
_CBOR_PATH = re.compile(r"^/service/[^/]+/operation/([^/?]+)")
MAX_FORM_BODY = 1 << 20  # query-protocol bodies are small; larger ones are never read


@dataclass(frozen=True)
class Caller:
    access_key: str
    service: str
    region: str = ""


def caller(environ: dict[str, Any]) -> Caller | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _CREDENTIAL.search(auth)
    if match is None:
        cred = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential", [""])[0]
        match = _CREDENTIAL.search(f"Credential={cred}")
    return Caller(match.group(1), match.group(3), match.group(2)) if match else None


def request_protocol(environ: dict[str, Any], default: str) -> str:
    """The protocol the request speaks (a service may accept several, e.g. CloudWatch: RPC v2
    CBOR, JSON or query); the answer must speak the same."""
    if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":
        return "smithy-rpc-v2-cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if default in ("json", "smithy-rpc-v2-cbor") and "form-urlencoded" in environ.get(
            "CONTENT_TYPE", ""):
        return "query"
    return default


def operation(environ: dict[str, Any], protocol: str, service_name: str | None) -> str | None:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    path = environ.get("PATH_INFO", "")
    if protocol == "smithy-rpc-v2-cbor":
        match = _CBOR_PATH.match(path)
        return match.group(1) if match else None
    if protocol in ("query", "ec2"):
        return _form_action(environ)
    if protocol in ("rest-json", "rest-xml") and service_name:
        return _rest_operation(service_name, environ.get("REQUEST_METHOD", "GET"), path,
                               environ.get("QUERY_STRING", ""))
    return None


def _form_action(environ: dict[str, Any]) -> str | None:
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return action[0]
    if "form-urlencoded" not in environ.get("CONTENT_TYPE", ""):
        return None
    raw = body(environ)
    if raw is None:
        return None
    values = parse_qs(raw.decode("utf-8", "replace")).get("Action")
    return values[0] if values else None


Route = tuple[int, str, re.Pattern[str], tuple[str, ...], str, dict[str, str]]


@lru_cache(maxsize=32)
def _routes(service_name: str) -> list[Route]:
    """(specificity, method, path regex, required query keys, operation, group -> member
    name), most specific first. Path labels ({Bucket}, {Key+}, {FunctionName}) are named
    groups, so a caller can read them (``rest_match``)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(service_name)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http.get("requestUri", "/")
        path, _, query = uri.partition("?")
        keys = tuple(k.split("=")[0] for k in query.split("&") if k)
        labels: dict[str, str] = {}
        parts = []
        for part in re.split(r"(\{[^}]+\})", path):
            if not part:
                continue
            if part.startswith("{"):
                label = part.strip("{}+")
                group = f"g{len(labels)}"
                labels[group] = label
                parts.append(f"(?P<{group}>{'.+' if part.endswith('+}') else '[^/]+'})")
            else:
                parts.append(re.escape(part))
        literal = len(re.sub(r"\{[^}]+\}", "", path)) + 10 * len(keys)
        routes.append((literal, http.get("method", "GET"), re.compile(f"^{''.join(parts)}/?$"),
                       keys, name, labels))
    routes.sort(key=lambda r: -r[0])
    return routes


def rest_match(service_name: str, method: str, path: str,
               query: str) -> tuple[str, dict[str, str]] | None:
    """The REST operation and its path labels (``path`` is WSGI's, already decoded)."""
    present = set(parse_qs(query, keep_blank_values=True))
    for _, verb, regex, keys, name, labels in _routes(service_name):
        if verb != method or not all(k in present for k in keys):
            continue
        match = regex.match(path)
        if match:
            return name, {labels[g]: v for g, v in match.groupdict().items()}
    return None


def _rest_operation(service_name: str, method: str, path: str, query: str) -> str | None:
    found = rest_match(service_name, method, path, query)
    return found[0] if found else None


def body(environ: dict[str, Any], limit: int = MAX_FORM_BODY) -> bytes | None:
    """The request body, read once and put back for moto; None if absent or over ``limit``."""
    cached = environ.get("tradai.body")
    if cached is not None:
        return bytes(cached)
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= limit:
        return None
    raw = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(raw)  # moto reads it again
    environ["tradai.body"] = raw
    return bytes(raw)
