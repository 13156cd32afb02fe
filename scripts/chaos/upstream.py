"""An upstream for scripts/chaos.sh: deterministic bodies with their sha256, and misbehaviour on demand.

usage: upstream.py ADDRESS PORT MODE
  MODE stable   answers every request
       stalling answers, but 5 % of requests get nothing for 60 s
       garbage  answers, but 5 % of requests get a malformed response and a closed connection

GET /data/N   N bytes (a fixed pattern), with x-sha256 of the body
POST /echo    the request body back, with x-sha256
"""
import hashlib
import http.server
import random
import sys
import time

ADDRESS, PORT, MODE = sys.argv[1], int(sys.argv[2]), sys.argv[3]
PATTERN = bytes(range(256)) * 4096  # 1 MiB


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def misbehave(self):
        if MODE == "stalling" and random.random() < 0.05:
            time.sleep(60)
            return True
        if MODE == "garbage" and random.random() < 0.05:
            self.wfile.write(b"HTTP/1.1 2x0 not a status\r\nContent-Length: zzz\r\n\r\n\x00\x01garbage")
            self.close_connection = True
            return True
        return False

    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-sha256", hashlib.sha256(body).hexdigest())
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.misbehave():
            return
        if self.path.startswith("/data/"):
            size = min(int(self.path.split("/")[2]), len(PATTERN))
            self.reply(PATTERN[:size])
        else:
            self.reply(b"ok")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.misbehave():
            return
        self.reply(body)

    do_PUT = do_POST


http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer.request_queue_size = 256
http.server.ThreadingHTTPServer((ADDRESS, PORT), Handler).serve_forever()
