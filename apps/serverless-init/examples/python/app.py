# Serves HTTP on $PORT; each request logs a line and sends a DogStatsD distribution to 127.0.0.1:8125.
import os
import socket
from http.server import BaseHTTPRequestHandler, HTTPServer

statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
statsd_port = int(os.environ.get("DD_DOGSTATSD_PORT", "8125"))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        statsd.sendto(b"hello.requests:1|d|#path:" + self.path.encode(), ("127.0.0.1", statsd_port))
        print(f"served {self.path}", flush=True)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello\n")

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler)
print(f"listening on {server.server_port}", flush=True)
server.serve_forever()
