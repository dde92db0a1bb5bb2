"""CloudWatch's Smithy RPC v2 CBOR protocol in front of moto, for the emulator (emulator.py).

The AWS SDK for Rust speaks CloudWatch in CBOR (`POST /service/GraniteServiceVersion20100801/
operation/<Operation>`, `application/cbor`); moto 5.2 serves CloudWatch in its other protocols
only (query, and JSON 1.0 with `X-Amz-Target`), and answers the CBOR path with a 404. This WSGI
middleware turns such a request into the same call in the JSON protocol, lets moto's own
CloudWatch (its parser, models and serializer) answer it, and turns the answer back into CBOR,
with botocore's service model saying which members are timestamps, integers or doubles. Every
other request passes through untouched. Nothing of moto's behaviour is changed or faked.

The CBOR codec covers what the protocol uses (RFC 8949): integers, floats, text and byte
strings, arrays and maps (also of indefinite length), booleans, null, and tag 1 (epoch
timestamps).
"""
import gzip
import io
import json
import struct
from datetime import datetime, timezone

import botocore.session

PREFIX = "/service/GraniteServiceVersion20100801/operation/"
TARGET = "GraniteServiceVersion20100801"
_MODEL = botocore.session.get_session().get_service_model("cloudwatch")


# ---- decoding ----


class _Reader:
    def __init__(self, data):
        self.data = data
        self.at = 0

    def take(self, n):
        chunk = self.data[self.at : self.at + n]
        if len(chunk) != n:
            raise ValueError("truncated CBOR")
        self.at += n
        return chunk

    def head(self):
        first = self.take(1)[0]
        major, info = first >> 5, first & 0x1F
        if info < 24:
            return major, info, info
        if info in (24, 25, 26, 27):
            size = 1 << (info - 24)
            return major, info, int.from_bytes(self.take(size), "big")
        if info == 31:
            return major, info, None
        raise ValueError(f"unsupported CBOR additional info {info}")

    def item(self):
        major, info, arg = self.head()
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major in (2, 3):
            if arg is None:  # indefinite: chunks until break
                parts = []
                while self.data[self.at] != 0xFF:
                    parts.append(self.item())
                self.at += 1
                return (b"" if major == 2 else "").join(parts)
            raw = self.take(arg)
            return raw if major == 2 else raw.decode("utf-8")
        if major == 4:
            if arg is None:
                items = []
                while self.data[self.at] != 0xFF:
                    items.append(self.item())
                self.at += 1
                return items
            return [self.item() for _ in range(arg)]
        if major == 5:
            out = {}
            if arg is None:
                while self.data[self.at] != 0xFF:
                    key = self.item()
                    out[key] = self.item()
                self.at += 1
                return out
            for _ in range(arg):
                key = self.item()
                out[key] = self.item()
            return out
        if major == 6:
            value = self.item()
            return value  # tag 1 (epoch seconds) reads as its number, as JSON 1.0 writes it
        # major 7
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return _half(arg)
        if info == 26:
            return struct.unpack(">f", arg.to_bytes(4, "big"))[0]
        if info == 27:
            return struct.unpack(">d", arg.to_bytes(8, "big"))[0]
        raise ValueError(f"unsupported CBOR simple value {info}")


def _half(bits):
    sign = -1.0 if bits & 0x8000 else 1.0
    exponent = (bits >> 10) & 0x1F
    fraction = bits & 0x3FF
    if exponent == 0:
        return sign * fraction * 2.0**-24
    if exponent == 31:
        return sign * (float("inf") if fraction == 0 else float("nan"))
    return sign * (1 + fraction / 1024.0) * 2.0 ** (exponent - 15)


def decode(data):
    return _Reader(data).item() if data else {}


# ---- encoding, by the shape of each member ----


def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError("integer too large for CBOR")


def _epoch(value):
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.replace("Z", "+00:00")
        parsed = datetime.fromisoformat(text)
    else:
        parsed = value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def encode(value, shape=None):
    kind = shape.type_name if shape is not None else None
    if value is None:
        return b"\xf6"
    if kind == "timestamp":
        return b"\xc1" + b"\xfb" + struct.pack(">d", _epoch(value))
    if kind in ("double", "float"):
        return b"\xfb" + struct.pack(">d", float(value))
    if kind in ("integer", "long"):
        value = int(value)
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(value, list):
        member = shape.member if kind == "list" else None
        return _head(4, len(value)) + b"".join(encode(v, member) for v in value)
    if isinstance(value, dict):
        out = _head(5, len(value))
        for key, item in value.items():
            if kind == "structure":
                member = shape.members.get(key)
            elif kind == "map":
                member = shape.value
            else:
                member = None
            out += encode(key) + encode(item, member)
        return out
    raise ValueError(f"cannot encode {type(value)}")


# ---- the middleware ----


def cbor_for_cloudwatch(app):
    def middleware(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or not path.startswith(PREFIX):
            return app(environ, start_response)
        operation = path[len(PREFIX) :]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
            body = gzip.decompress(body)
            environ.pop("HTTP_CONTENT_ENCODING")
        request = json.dumps(decode(body), default=str).encode()
        environ = dict(environ)
        environ["PATH_INFO"] = "/"
        environ["CONTENT_TYPE"] = "application/x-amz-json-1.0"
        environ["HTTP_X_AMZ_TARGET"] = f"{TARGET}.{operation}"
        environ["CONTENT_LENGTH"] = str(len(request))
        environ["wsgi.input"] = io.BytesIO(request)

        answered = {}

        def capture(status, headers, exc_info=None):
            answered["status"] = status
            answered["headers"] = headers
            return lambda data: None

        raw = b"".join(app(environ, capture))
        status = answered.get("status", "500 Internal Server Error")
        data = json.loads(raw) if raw.strip() else {}
        shape = None
        if status.startswith("2"):
            try:
                shape = _MODEL.operation_model(operation).output_shape
            except Exception:
                shape = None
        out = encode(data, shape)
        headers = [
            (k, v)
            for k, v in answered.get("headers", [])
            if k.lower() not in ("content-type", "content-length")
        ]
        headers += [
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Length", str(len(out))),
        ]
        start_response(status, headers)
        return [out]

    return middleware
