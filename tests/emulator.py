"""Start moto server on a free loopback port for Reflex's tests and demo.

Prints "READY <port>" once it serves, then runs until its standard input closes, so the server
dies with the test process that started it, even if that process is killed.
"""
import sys

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(f"READY {server.get_host_and_port()[1]}", flush=True)
sys.stdin.read()
server.stop()
