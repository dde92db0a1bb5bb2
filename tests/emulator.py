"""Start moto server on a free loopback port for Reflex's tests and demo.

Prints "READY <port>" once it serves, then runs until its standard input closes, so the server
dies with the test process that started it, even if that process is killed.

Requests are served one at a time: DynamoDB applies a conditional write atomically, and a
single-threaded emulator is faithful to that when several invocations race for one claim.

After each answer werkzeug waits up to 10 ms for request bytes the application did not read, so
that an over-long upload sees its error instead of a reset. The SDK never sends such bytes (moto
reads every body by its length), and one server serving one request at a time would spend most
of its time in that wait: it only drains what has already arrived.

CloudWatch is answered in the CBOR protocol the AWS SDK for Rust speaks (cloudwatch_cbor.py),
which moto 5.2 does not serve itself.
"""
import selectors
import sys
import threading

import werkzeug.serving
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from cloudwatch_cbor import cbor_for_cloudwatch


class _DrainWhatArrived(selectors.DefaultSelector):
    def select(self, timeout=None):
        return super().select(0)


class _Selectors:
    """`selectors` as werkzeug's server sees it: only its drain after an answer uses it."""

    DefaultSelector = _DrainWhatArrived
    EVENT_READ = selectors.EVENT_READ


werkzeug.serving.selectors = _Selectors

# CloudWatch as the AWS SDK for Rust speaks it (CBOR), answered by moto's CloudWatch.
app = cbor_for_cloudwatch(DomainDispatcherApplication(create_backend_app))
server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=MotoRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"READY {server.server_port}", flush=True)
sys.stdin.read()
server.shutdown()
