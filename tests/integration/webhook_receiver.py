"""A webhook receiver on 127.0.0.1 for the tests: it checks every delivery's
Standard Webhooks signature and keeps what it accepted."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import threading
import time

SECRET_BYTES = os.urandom(32)
SECRET = "whsec_" + base64.b64encode(SECRET_BYTES).decode()
ALL_EVENTS = ["job.queued", "job.started", "job.succeeded", "job.failed", "job.cancelled", "job.timed_out",
              "job.interrupted"]


def expected_signature(msg_id, timestamp, body, key=SECRET_BYTES):
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class Receiver:
    """A webhook receiver on 127.0.0.1 that checks every signature.

    `fail_first` answers 500 to the first N tries of each webhook-id; a
    delivery whose signature does not verify is counted in `bad`."""

    def __init__(self, fail_first=0, port=0):
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.tries = {}       # webhook-id -> tries so far
        self.accepted = []    # (received_at, headers, payload) of the 2xx answers
        self.bad = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                msg_id = self.headers.get("webhook-id", "")
                timestamp = self.headers.get("webhook-timestamp", "")
                signature = self.headers.get("webhook-signature", "")
                ok = (msg_id and timestamp.isdigit() and abs(int(timestamp) - time.time()) < 300 and
                      hmac.compare_digest(signature, expected_signature(msg_id, timestamp, body)) and
                      self.headers.get("Content-Type") == "application/json")
                with owner.lock:
                    n = owner.tries.get(msg_id, 0) + 1
                    owner.tries[msg_id] = n
                    if not ok:
                        owner.bad.append((dict(self.headers), body))
                    status = 500 if n <= owner.fail_first else 204
                    if status == 204:
                        owner.accepted.append((time.monotonic(), dict(self.headers), json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, host="127.0.0.1"):
        return f"http://{host}:{self.server.server_address[1]}/hook"

    def payloads(self):
        with self.lock:
            return [payload for _, _, payload in self.accepted]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
