"""Start moto server on a free loopback port for Reflex's tests and demo.

Prints "READY <port>" once it serves, then runs until its standard input closes, so the server
dies with the test process that started it, even if that process is killed.

Requests are served one at a time: DynamoDB applies a conditional write atomically, and a
single-threaded emulator is faithful to that when several invocations race for one claim.
"""
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

app = DomainDispatcherApplication(create_backend_app)
server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=MotoRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(f"READY {server.server_port}", flush=True)
sys.stdin.read()
server.shutdown()
