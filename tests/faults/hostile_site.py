#!/usr/bin/python3
"""A hostile web server for crawler tests, on 127.0.0.1 only.

Raw sockets, one thread per connection, so that it can misbehave at the
byte level. Paths:

  /hang          reads the request and never answers
  /trickle       answers one byte a second (status line included)
  /endless       200 text/html, chunked, a body that never ends
  /huge          200 with Content-Length: 1 GB, streams zeros as long as read
  /loop/a        302 -> /loop/b -> 302 -> /loop/a
  /to-private    302 -> http://169.254.169.254/latest/meta-data/ (never contacted:
                 the crawler must refuse it before connecting)
  /to-private-10 302 -> http://10.0.0.1/
  /endless-header  a response header that never ends
  /bad-chunk     chunked body with a chunk size of 2^64 - 1
  /nested        ~10 MB of nested HTML (<div> 10 MB deep-ish, then text)
  /binary        2 MB of random bytes as text/html
  /links         one page linking to 100,000 distinct URLs /l/0 ... /l/99999
  /l/N           a tiny page
  /bomb          200 Content-Encoding: gzip, 10 MB on the wire that decode to
                 10 GiB of zeros (10,240 gzip members of 1 MiB each)
  /reset-links   a page linking to /reset/0 ... /reset/29
  /reset/N       every such request is answered with a TCP reset
  /ok            a tiny page
  /robots.txt    404
  anything else  404

A second listener (tls_port) answers every connection with garbage bytes,
to be used with an https:// URL.

Every accepted connection and request path is counted (stats()).
"""
import gzip
import os
import random
import socket
import struct
import threading
import time

NESTED_BYTES = 10 * 1024 * 1024
LINKS = 100_000
BOMB_MEMBERS = 10_240  # of 1 MiB each: 10 GiB decoded
RESET_LINKS = 30


def _nested_page():
    depth = 20_000
    head = b"<!doctype html><html><head><title>nested</title></head><body>"
    opening = b"<div><span>" * depth
    closing = b"</span></div>" * depth
    used = len(head) + len(opening) + len(closing) + len(b"</body></html>")
    filler = (b"<p>x</p>" * ((NESTED_BYTES - used) // 8 + 1))[:max(0, NESTED_BYTES - used)]
    return head + opening + filler + closing + b"</body></html>"


def _links_page():
    parts = [b"<!doctype html><html><head><title>links</title></head><body>"]
    parts += [b'<a href="/l/%d">%d</a>\n' % (i, i) for i in range(LINKS)]
    parts.append(b"</body></html>")
    return b"".join(parts)


class HostileSite:
    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        self.tls_connections = 0
        self.paths = []
        self.stopping = False
        self.nested = _nested_page()
        self.links = _links_page()
        self.binary = random.Random(7).randbytes(2 * 1024 * 1024)
        self.bomb = gzip.compress(b"\0" * (1 << 20), 9) * BOMB_MEMBERS
        self.sock = self._listen()
        self.port = self.sock.getsockname()[1]
        self.tls_sock = self._listen()
        self.tls_port = self.tls_sock.getsockname()[1]
        self.open = []
        threading.Thread(target=self._accept, args=(self.sock, self._serve), daemon=True).start()
        threading.Thread(target=self._accept, args=(self.tls_sock, self._garbage), daemon=True).start()

    @staticmethod
    def _listen():
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen(256)
        s.settimeout(0.2)
        return s

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def tls_url(self, path="/"):
        return "https://127.0.0.1:%d%s" % (self.tls_port, path)

    def stats(self):
        with self.lock:
            return {"connections": self.connections, "tls_connections": self.tls_connections,
                    "requests": len(self.paths), "paths": list(self.paths)}

    def stop(self):
        self.stopping = True
        for s in (self.sock, self.tls_sock):
            s.close()
        with self.lock:
            for c in self.open:
                try:
                    c.close()
                except OSError:
                    pass

    def _accept(self, listener, handler):
        while not self.stopping:
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.open.append(conn)
            threading.Thread(target=self._guard, args=(handler, conn), daemon=True).start()

    def _guard(self, handler, conn):
        try:
            handler(conn)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self.lock:
                if conn in self.open:
                    self.open.remove(conn)

    def _garbage(self, conn):
        with self.lock:
            self.tls_connections += 1
        conn.settimeout(10)
        conn.recv(4096)  # the ClientHello
        conn.sendall(b"\x15\x03\x01\x00\x02garbage, not TLS at all \x00\xff" * 20)
        time.sleep(0.5)

    def _read_request(self, conn, buffer):
        while b"\r\n\r\n" not in buffer:
            chunk = conn.recv(65536)
            if not chunk:
                return None, b""
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        return (parts[1] if len(parts) > 1 else "/"), rest

    @staticmethod
    def _answer(conn, status, body, content_type="text/html", headers=()):
        head = "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (
            status, content_type, len(body), "".join("%s: %s\r\n" % h for h in headers))
        conn.sendall(head.encode() + body)

    def _serve(self, conn):
        with self.lock:
            self.connections += 1
        conn.settimeout(120)
        buffer = b""
        while not self.stopping:
            path, buffer = self._read_request(conn, buffer)
            if path is None:
                return
            with self.lock:
                self.paths.append(path)
            if not self._route(conn, path):
                return

    def _route(self, conn, path):
        """Answers one request; False closes the connection."""
        if path == "/hang":
            while not self.stopping and conn.recv(1024):
                pass
            return False
        if path == "/trickle":
            body = b"<html><title>slow</title></html>"
            data = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            for i in range(len(data)):
                if self.stopping:
                    return False
                conn.sendall(data[i:i + 1])
                time.sleep(1)
            return False
        if path == "/endless":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"<p>" + b"endless " * 2000 + b"</p>\n"
            framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
            while not self.stopping:
                conn.sendall(framed)
            return False
        if path == "/endless-header":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Endless: ")
            while not self.stopping:
                conn.sendall(b"a" * 65536)
            return False
        if path == "/bad-chunk":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"ffffffffffffffff\r\n<html>")
            time.sleep(1)
            return False
        if path == "/huge":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % (1 << 30))
            zeros = b"\0" * 65536
            for _ in range((1 << 30) // len(zeros)):
                if self.stopping:
                    break
                conn.sendall(zeros)
            return False
        if path == "/loop/a":
            self._answer(conn, "302 Found", b"", headers=[("Location", "/loop/b")])
            return True
        if path == "/loop/b":
            self._answer(conn, "302 Found", b"", headers=[("Location", self.url("/loop/a"))])
            return True
        if path == "/to-private":
            self._answer(conn, "302 Found", b"", headers=[("Location", "http://169.254.169.254/latest/meta-data/")])
            return True
        if path == "/to-private-10":
            self._answer(conn, "301 Moved Permanently", b"", headers=[("Location", "http://10.0.0.1/")])
            return True
        if path == "/nested":
            self._answer(conn, "200 OK", self.nested)
            return True
        if path == "/binary":
            self._answer(conn, "200 OK", self.binary, "text/html; charset=utf-8")
            return True
        if path == "/links":
            self._answer(conn, "200 OK", self.links)
            return True
        if path == "/bomb":
            self._answer(conn, "200 OK", self.bomb, headers=[("Content-Encoding", "gzip")])
            return True
        if path == "/reset-links":
            body = b"".join(b'<a href="/reset/%d">r</a>' % i for i in range(RESET_LINKS))
            self._answer(conn, "200 OK", b"<html><title>resets</title>" + body + b"</html>")
            return True
        if path.startswith("/reset/"):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        if path.startswith("/l/") or path == "/ok":
            self._answer(conn, "200 OK", b"<html><head><title>ok</title></head><body>ok</body></html>")
            return True
        self._answer(conn, "404 Not Found", b"not here", "text/plain")
        return True


if __name__ == "__main__":
    site = HostileSite()
    print("hostile site on http://127.0.0.1:%d/ (garbage TLS on %d)" % (site.port, site.tls_port), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        site.stop()
