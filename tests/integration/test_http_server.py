"""The HTTP server over real sockets: what a client sees.

Each test class starts the real crawld binary (CRAWLD_BIN) with the limits it
needs, on port 0, and talks to it with http.client or raw sockets.
"""

import email.utils
import json
import signal
import socket
import threading
import time
import unittest

import crawld_harness
from crawld_harness import Crawld, closed_by_peer, read_response, run_binary, write_config


def raw_request(method, path, headers=None, body=b"", version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, path, version), "Host: crawld.test"]
    for name, value in (headers or {}).items():
        lines.append("%s: %s" % (name, value))
    if body and not any(name.lower() in ("content-length", "transfer-encoding") for name in (headers or {})):
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def status_of(status_line):
    return int(status_line.split(" ")[1])


class ServerTestCase(unittest.TestCase):
    """Starts one server per class; checks it is healthy and clean at the end."""

    config = {}
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Crawld(cls.config, name=cls.__name__).start()

    @classmethod
    def tearDownClass(cls):
        server = cls.server
        alive = server.alive()
        code = server.stop()
        log = server.log_text()
        # Sanitizer reports and crashes fail the class even when every
        # request was answered.
        if not alive:
            raise AssertionError("crawld died during the tests (exit code %s)" % code)
        if code != 0:
            raise AssertionError("crawld exited with %s after SIGTERM" % code)
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in log:
                raise AssertionError("sanitizer report in the log: %s" % marker)

    def assert_healthy(self):
        status, headers, body = self.server.request("GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"status": "ok"})

    def assert_problem(self, headers, body, status):
        self.assertEqual(headers.get("content-type"), "application/problem+json")
        problem = json.loads(body)
        self.assertEqual(problem["status"], status)
        for key in ("type", "title", "detail"):
            self.assertIsInstance(problem.get(key), str, key)
        return problem

    def exchange(self, data, timeout=5):
        """Sends raw bytes on a new connection; returns (status line, headers, body, closed after)."""
        with self.server.socket(timeout) as sock:
            sock.sendall(data)
            status_line, headers, body, _ = read_response(sock)
            closed = closed_by_peer(sock, 3)
        return status_line, headers, body, closed


class Basics(ServerTestCase):
    config = {"server": {"max_body_bytes": 1024, "max_header_bytes": 4096, "request_timeout_ms": 5000,
                         "idle_timeout_ms": 10000}}

    def test_get_start_is_the_parameter_docs(self):
        status, headers, body = self.server.request("GET", "/start")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(int(headers["content-length"]), len(body))
        docs = json.loads(body)
        self.assertEqual(docs["description"], "Start the crawler by calling this endpoint via post.")
        self.assertEqual(docs["allowed_parameters"]["deep"], "boolean")
        self.assertEqual(docs["allowed_parameters"]["season"], "number")
        names = [p["name"] for p in docs["parameters"]]
        self.assertEqual(sorted(names), ["deep", "log_to_db", "season", "target", "timeout"])

    def test_get_start_ignores_the_query(self):
        status, _, body = self.server.request("GET", "/start?deep=true")
        self.assertEqual(status, 200)
        self.assertIn("allowed_parameters", json.loads(body))

    def test_head_has_content_length_but_no_body(self):
        _, _, get_body = self.server.request("GET", "/start")
        with self.server.socket() as sock:
            # HEAD then GET on one connection: the GET's answer must follow
            # the HEAD's header directly, proving no body was sent.
            sock.sendall(raw_request("HEAD", "/start") + raw_request("GET", "/healthz"))
            status_line, headers, body, rest = read_response(sock, head=True)
            self.assertEqual(status_of(status_line), 200)
            self.assertEqual(int(headers["content-length"]), len(get_body))
            self.assertEqual(headers["content-type"], "application/json")
            self.assertEqual(body, b"")
            status_line, headers, body, rest = read_response(sock, data=rest)
            self.assertEqual(status_of(status_line), 200)
            self.assertEqual(json.loads(body), {"status": "ok"})

    def test_head_on_unknown_path_is_404_without_body(self):
        conn = self.server.connection()
        conn.request("HEAD", "/nope")
        response = conn.getresponse()
        self.assertEqual(response.status, 404)
        self.assertEqual(response.read(), b"")
        conn.close()

    def test_server_and_date_headers(self):
        for method, path in (("GET", "/start"), ("GET", "/nope"), ("POST", "/healthz")):
            status, headers, _ = self.server.request(method, path)
            self.assertRegex(headers.get("server", ""), r"^crawld/\d+\.\d+\.\d+")
            date = email.utils.parsedate_to_datetime(headers["date"])
            self.assertLess(abs(date.timestamp() - time.time()), 120)
            self.assertTrue(headers["date"].endswith(" GMT"), headers["date"])

    def test_keep_alive_serves_several_requests_on_one_connection(self):
        conn = self.server.connection()
        conn.connect()
        first_socket = conn.sock
        local = conn.sock.getsockname()
        for path in ("/healthz", "/start", "/nope", "/healthz", "/start"):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            self.assertIn(response.status, (200, 404))
            self.assertIs(conn.sock, first_socket, "the client had to reconnect")
            self.assertEqual(conn.sock.getsockname(), local)
            self.assertFalse(response.will_close)
        conn.close()

    def test_pipelined_requests_are_answered_in_order(self):
        with self.server.socket() as sock:
            sock.sendall(raw_request("GET", "/healthz") + raw_request("GET", "/nope") + raw_request("GET", "/start"))
            statuses = []
            rest = b""
            for _ in range(3):
                status_line, _, _, rest = read_response(sock, data=rest)
                statuses.append(status_of(status_line))
            self.assertEqual(statuses, [200, 404, 200])

    def test_responses_larger_than_the_socket_takes_arrive_whole_to_a_slow_reader(self):
        # The server writes what the socket takes at once and the rest as the
        # client reads: pipelined copies of the API document, twice what the
        # largest send buffer holds, to a client with a small receive window
        # that waits before it reads.
        status, _, document = self.server.request("GET", "/openapi.json")
        self.assertEqual(status, 200)
        self.assertGreater(len(document), 10000)
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            send_buffer_max = int(f.read().split()[2])
        copies = 2 * send_buffer_max // len(document) + 2
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(20)
        sock.connect(self.server.address())
        with sock:
            sock.sendall(raw_request("GET", "/openapi.json") * copies + raw_request("GET", "/healthz"))
            time.sleep(0.5)
            rest = b""
            for _ in range(copies):
                status_line, headers, body, rest = read_response(sock, data=rest)
                self.assertEqual(status_of(status_line), 200)
                self.assertEqual(int(headers["content-length"]), len(document))
                self.assertEqual(body, document)
            status_line, _, body, rest = read_response(sock, data=rest)
            self.assertEqual((status_of(status_line), json.loads(body)), (200, {"status": "ok"}))
            self.assertEqual(rest, b"")

    def test_http_1_0_is_answered_and_closed(self):
        status_line, headers, body, closed = self.exchange(b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertRegex(status_line, r"^HTTP/1\.[01] 200 ")
        self.assertEqual(json.loads(body), {"status": "ok"})
        self.assertTrue(closed, "an HTTP/1.0 connection without keep-alive must be closed")

    def test_http_1_0_keep_alive(self):
        with self.server.socket() as sock:
            request = b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
            sock.sendall(request)
            status_line, headers, body, _ = read_response(sock)
            self.assertEqual(status_of(status_line), 200)
            self.assertEqual(headers.get("connection", "").lower(), "keep-alive")
            sock.sendall(request)
            status_line, _, body, _ = read_response(sock)
            self.assertEqual(status_of(status_line), 200)

    def test_connection_close_is_honoured(self):
        status_line, headers, _, closed = self.exchange(raw_request("GET", "/healthz", {"Connection": "close"}))
        self.assertEqual(status_of(status_line), 200)
        self.assertEqual(headers.get("connection", "").lower(), "close")
        self.assertTrue(closed)

    def test_unknown_path_is_404_problem(self):
        status, headers, body = self.server.request("GET", "/no/such/thing?x=1")
        self.assertEqual(status, 404)
        problem = self.assert_problem(headers, body, 404)
        self.assertEqual(problem["instance"], "/no/such/thing")

    def test_wrong_method_is_405_with_allow(self):
        status, headers, body = self.server.request("POST", "/healthz")
        self.assertEqual(status, 405)
        self.assert_problem(headers, body, 405)
        self.assertEqual(headers["allow"], "GET, HEAD")

        status, headers, body = self.server.request("DELETE", "/start")
        self.assertEqual(status, 405)
        self.assert_problem(headers, body, 405)
        self.assertEqual(sorted(m.strip() for m in headers["allow"].split(",")), ["GET", "HEAD", "POST"])

    def test_post_start_validation_is_422_problem(self):
        status, headers, body = self.server.request("POST", "/start", body=b'{"deep": "true", "season": 2024.5}',
                                                    headers={"Content-Type": "application/json"})
        self.assertEqual(status, 422)
        problem = self.assert_problem(headers, body, 422)
        self.assertEqual(sorted(e["field"] for e in problem["errors"]), ["deep", "season"])

        status, headers, body = self.server.request("POST", "/start", body=b"deep=maybe",
                                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 422)
        status, headers, body = self.server.request("POST", "/start", body=b"<x/>",
                                                    headers={"Content-Type": "application/xml"})
        self.assertEqual(status, 415)
        self.assert_problem(headers, body, 415)
        status, headers, body = self.server.request("POST", "/start", body=b'{"deep": tru}',
                                                    headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertIn("byte", self.assert_problem(headers, body, 400)["detail"])

    def test_body_larger_than_the_limit_is_413(self):
        status_line, headers, body, closed = self.exchange(
            raw_request("POST", "/start", {"Content-Type": "application/json"}, b"{" + b" " * 2000 + b"}"))
        self.assertEqual(status_of(status_line), 413)
        self.assert_problem(headers, body, 413)
        self.assertTrue(closed)
        self.assert_healthy()

    def test_a_client_that_sends_its_whole_body_before_reading_gets_the_413(self):
        # As Python's http.client (and so requests) does: no Expect:
        # 100-continue, the whole 2 MiB in one sendall, then read. Without a
        # lingering close the server's close resets the connection and the
        # client sees a broken pipe or a reset instead of the answer.
        big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
        for attempt in range(3):
            with self.server.socket(10) as sock:
                sock.sendall(raw_request("POST", "/start?x=1", {"Content-Type": "application/json"}, big))
                status_line, headers, body, _ = read_response(sock)
                self.assertEqual(status_of(status_line), 413)
                problem = self.assert_problem(headers, body, 413)
                self.assertEqual(problem["instance"], "/start")  # the request's path, as for every problem
                self.assertTrue(closed_by_peer(sock, 5))
        self.assert_healthy()

    def test_early_answers_name_the_request_path(self):
        cases = ((raw_request("POST", "/start", {"Content-Type": "application/json"}, b"{" + b" " * 2000 + b"}"), 413),
                 (raw_request("GET", "/jobs?limit=5", {"X-Big": "a" * 8000}), 431),
                 (raw_request("GET", "/healthz", {"Content-Length": "abc"}), 400))
        for data, status in cases:
            status_line, headers, body, closed = self.exchange(data)
            self.assertEqual(status_of(status_line), status, data[:40])
            problem = self.assert_problem(headers, body, status)
            self.assertEqual(problem["instance"], data.split(b" ")[1].split(b"?")[0].decode(), data[:40])
            self.assertTrue(closed)

    def test_absolute_form_targets_are_served(self):
        # RFC 9112 3.2.2: a server must accept "GET http://host/path".
        for target in ("http://crawld.test/healthz", "HTTP://crawld.test:8080/healthz?x=1"):
            status_line, _, body, _ = self.exchange(raw_request("GET", target, {"Connection": "close"}))
            self.assertEqual(status_of(status_line), 200, target)
            self.assertEqual(json.loads(body), {"status": "ok"})

    def test_http_1_1_needs_exactly_one_host(self):
        # RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, or with two.
        for data in (b"GET /healthz HTTP/1.1\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"):
            status_line, headers, body, closed = self.exchange(data)
            self.assertEqual(status_of(status_line), 400, data)
            self.assertIn("Host", self.assert_problem(headers, body, 400)["detail"])
            self.assertTrue(closed)
        # HTTP/1.0 has no such rule.
        status_line, _, _, _ = self.exchange(b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual(status_of(status_line), 200)

    def test_body_at_the_limit_is_read(self):
        body = b'{"deep": true}'.ljust(1024, b" ")
        status, _, _ = self.server.request("POST", "/start", body=body, headers={"Content-Type": "application/json"})
        self.assertNotIn(status, (400, 413))

    def test_large_content_length_is_refused_before_the_body_is_sent(self):
        with self.server.socket() as sock:
            sock.sendall(raw_request("POST", "/start", {"Content-Type": "application/json",
                                                         "Content-Length": "50000000"}))
            started = time.monotonic()
            status_line, headers, body, _ = read_response(sock)
            # request_timeout_ms is 5 s: an answer well before it was not
            # waiting for the body.
            self.assertLess(time.monotonic() - started, 3)
            self.assertEqual(status_of(status_line), 413)
            self.assert_problem(headers, body, 413)
            self.assertTrue(closed_by_peer(sock, 3))
        self.assert_healthy()

    def test_chunked_body_larger_than_the_limit_is_413(self):
        chunk = b"x" * 600
        data = raw_request("POST", "/start", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        data += (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 3 + b"0\r\n\r\n"
        status_line, headers, body, closed = self.exchange(data)
        self.assertEqual(status_of(status_line), 413)
        self.assertTrue(closed)

    def test_oversized_header_is_431(self):
        status_line, headers, body, closed = self.exchange(raw_request("GET", "/healthz", {"X-Big": "a" * 8000}))
        self.assertEqual(status_of(status_line), 431)
        self.assert_problem(headers, body, 431)
        self.assertTrue(closed)
        self.assert_healthy()

    def test_many_headers_over_the_limit_are_431(self):
        headers = {"X-H%d" % i: "v" * 50 for i in range(100)}
        status_line, _, _, closed = self.exchange(raw_request("GET", "/healthz", headers))
        self.assertEqual(status_of(status_line), 431)
        self.assertTrue(closed)

    def test_malformed_requests_get_400_and_are_closed(self):
        for data in (b"GARBAGE\r\n\r\n",
                     b"GET / HTTP/1.1 extra\r\n\r\n",
                     b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                     b"GET /healthz HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
                     b"POST /start HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                     b"\x00\x01\x02\x03\r\n\r\n",
                     b"G\xffT / HTTP/1.1\r\n\r\n"):
            with self.subTest(data=data):
                status_line, headers, body, closed = self.exchange(data)
                self.assertEqual(status_of(status_line), 400)
                self.assert_problem(headers, body, 400)
                self.assertTrue(closed, "the connection must be closed after a malformed request")
        self.assert_healthy()

    def test_client_closing_mid_request_does_not_hurt(self):
        for data in (b"GET /hea", b"POST /start HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"de"):
            sock = self.server.socket()
            sock.sendall(data)
            sock.close()
        sock = self.server.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        sock.close()  # reset
        self.assert_healthy()

    def test_200_concurrent_connections_are_all_answered(self):
        count = 200
        barrier = threading.Barrier(count)
        results = [None] * count

        def client(i):
            try:
                with self.server.socket(timeout=60) as sock:
                    # Every connection is open before any request is sent.
                    barrier.wait(timeout=60)
                    sock.sendall(raw_request("GET", "/healthz" if i % 2 else "/start", {"Connection": "close"}))
                    status_line, _, body, _ = read_response(sock)
                    results[i] = (status_of(status_line), len(body))
            except Exception as e:  # recorded and reported below
                results[i] = repr(e)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        failures = [(i, r) for i, r in enumerate(results) if not (isinstance(r, tuple) and r[0] == 200 and r[1] > 0)]
        self.assertEqual(failures, [])
        self.assert_healthy()

    def test_zz_still_healthy_after_everything(self):
        # Runs last (tests run in name order).
        self.assertTrue(self.server.alive())
        self.assert_healthy()


class Timeouts(ServerTestCase):
    config = {"server": {"request_timeout_ms": 300, "idle_timeout_ms": 600}}

    def time_until_closed(self, sock, limit=5):
        started = time.monotonic()
        closed = closed_by_peer(sock, limit)
        return closed, time.monotonic() - started

    def test_half_a_request_is_disconnected_after_request_timeout(self):
        with self.server.socket() as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: crawld.test\r\n")
            closed, seconds = self.time_until_closed(sock)
            self.assertTrue(closed, "still open after 5 s")
            self.assertGreater(seconds, 0.2)
            self.assertLess(seconds, 3)
        self.assert_healthy()

    def test_a_silent_client_is_disconnected(self):
        with self.server.socket() as sock:
            closed, seconds = self.time_until_closed(sock)
            self.assertTrue(closed)
            self.assertLess(seconds, 3)

    def test_an_unfinished_body_is_disconnected(self):
        with self.server.socket() as sock:
            sock.sendall(raw_request("POST", "/start", {"Content-Type": "application/json", "Content-Length": "100"})
                         + b'{"deep"')
            closed, seconds = self.time_until_closed(sock)
            self.assertTrue(closed)
            self.assertLess(seconds, 3)

    def test_a_trickling_client_is_disconnected(self):
        # One byte every 50 ms never lets the request complete in time; the
        # deadline covers the whole request, not each read.
        data = raw_request("GET", "/healthz", {"X-Pad": "p" * 200})
        with self.server.socket() as sock:
            started = time.monotonic()
            closed = False
            for byte in data:
                try:
                    sock.send(bytes([byte]))
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                time.sleep(0.05)
                if time.monotonic() - started > 5:
                    break
            if not closed:
                closed = closed_by_peer(sock, 1)
            self.assertTrue(closed, "a request trickling in for 5 s was not cut off")
            self.assertLess(time.monotonic() - started, 4)

    def test_idle_keep_alive_connection_is_closed(self):
        with self.server.socket() as sock:
            sock.sendall(raw_request("GET", "/healthz"))
            status_line, _, _, _ = read_response(sock)
            self.assertEqual(status_of(status_line), 200)
            closed, seconds = self.time_until_closed(sock)
            self.assertTrue(closed)
            self.assertGreater(seconds, 0.4, "closed before idle_timeout_ms")
            self.assertLess(seconds, 3)

    def test_a_client_that_never_reads_its_answers_is_disconnected(self):
        # Pipelined requests for a large answer, none of which is read: once
        # the socket buffers are full the server's write cannot finish, and
        # request_timeout_ms later the connection is closed.
        _, _, body = self.server.request("GET", "/start")
        count = max(3000, 16_000_000 // len(body))
        requests = raw_request("GET", "/start") * count
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((self.server.host, self.server.port))
        try:
            sock.setblocking(False)
            sent, deadline = 0, time.monotonic() + 5
            while sent < len(requests) and time.monotonic() < deadline:
                try:
                    sent += sock.send(requests[sent:sent + 65536])
                except BlockingIOError:
                    time.sleep(0.01)
            time.sleep(1.5)  # five times request_timeout_ms, reading nothing
            self.assert_healthy()
            sock.settimeout(5)
            received, ended = 0, False
            read_until = time.monotonic() + 20
            while time.monotonic() < read_until:
                try:
                    chunk = sock.recv(1 << 20)
                except ConnectionResetError:
                    ended = True
                    break
                if not chunk:
                    ended = True
                    break
                received += len(chunk)
            self.assertTrue(ended, "the connection was still open")
            self.assertLess(received, count * len(body), "every answer arrived: the write never stalled")
        finally:
            sock.close()
        self.assert_healthy()

    def test_keep_alive_survives_pauses_shorter_than_the_idle_time(self):
        with self.server.socket() as sock:
            for _ in range(3):
                sock.sendall(raw_request("GET", "/healthz"))
                status_line, _, _, _ = read_response(sock)
                self.assertEqual(status_of(status_line), 200)
                time.sleep(0.2)


class SecretsInTheQuery(ServerTestCase):
    TOKEN = "s3cret-token-for-the-access-log-test"
    config = {"auth": {"tokens": [TOKEN]}, "log": {"level": "info", "access_log": True}}

    def test_secrets_in_the_query_are_not_logged(self):
        leaked = "LEAKED-%d" % time.monotonic_ns()
        for query in ("access_token=%s" % leaked, "Token=%s&season=2024" % leaked, "season=1&API_KEY=%s" % leaked,
                      "x=1&client_secret=%s" % leaked, "signature=%s" % leaked, "pass%%77ord=%s" % leaked):
            status, _, _ = self.server.request("POST", "/start?" + query, body=b"{}",
                                               headers={"Content-Type": "application/json"})
            self.assertEqual(status, 401)
        status, _, _ = self.server.request("GET", "/healthz?season=2024&keep=visible")
        self.assertEqual(status, 200)
        deadline = time.monotonic() + 5
        while "keep=visible" not in self.server.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = self.server.log_text()
        self.assertNotIn(leaked, log)
        self.assertIn("access_token=***", log)
        self.assertIn("season=2024&keep=visible", log)  # other parameters are kept as sent
        with open(self.server.log_path, encoding="utf-8", errors="replace") as f:
            self.assertNotIn(leaked, f.read())


class ConnectionLimit(ServerTestCase):
    config = {"server": {"max_connections": 5, "request_timeout_ms": 20000, "idle_timeout_ms": 20000}}

    def open_idle(self, count):
        sockets = []
        for _ in range(count):
            sock = self.server.socket()
            sock.sendall(raw_request("GET", "/healthz"))
            status_line, _, _, _ = read_response(sock)
            self.assertEqual(status_of(status_line), 200)
            sockets.append(sock)
        return sockets

    def test_connections_beyond_the_limit_get_503(self):
        held = self.open_idle(5)
        try:
            for _ in range(3):
                with self.server.socket() as sock:
                    sock.sendall(raw_request("GET", "/healthz"))
                    status_line, headers, body, _ = read_response(sock)
                    self.assertEqual(status_of(status_line), 503)
                    self.assert_problem(headers, body, 503)
                    self.assertTrue(closed_by_peer(sock, 3))
            # The held connections still work.
            for sock in held:
                sock.sendall(raw_request("GET", "/healthz"))
                status_line, _, _, _ = read_response(sock)
                self.assertEqual(status_of(status_line), 200)
        finally:
            for sock in held:
                sock.close()
        # Once they are closed, new connections are served again.
        deadline = time.monotonic() + 5
        while True:
            status, _, _ = self.server.request("GET", "/healthz")
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(status, 200)


class CommandLine(unittest.TestCase):
    def config_file(self, config):
        return write_config(config, "cli")

    def assert_config_error(self, result, message):
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn(message, result.stderr)

    def test_unknown_key_exits_2_naming_the_key_path(self):
        path = self.config_file({"server": {"port": 0, "bogus": 1}})
        self.assert_config_error(run_binary(["--config", path]), "server.bogus: unknown key")

    def test_unknown_key_in_a_target(self):
        path = self.config_file({"crawl": {"targets": crawld_harness.ONE_TARGET + [
            {"name": "b", "seeds": ["http://b.test/"], "depht": 2}]}})
        self.assert_config_error(run_binary(["--config", path]), "crawl.targets[1].depht: unknown key")

    def test_wrong_type_exits_2(self):
        path = self.config_file({"server": {"port": "abc"}})
        self.assert_config_error(run_binary(["--config", path]),
                                 'server.port: expected integer 0-65535, got "abc"')

    def test_invalid_json_exits_2(self):
        path = self.config_file({})
        with open(path, "w") as f:
            f.write('{"server": {"port": 0,}}')
        self.assert_config_error(run_binary(["--config", path]), "invalid JSON")

    def test_bad_environment_override_exits_2(self):
        path = self.config_file({"server": {"port": 0}})
        self.assert_config_error(run_binary(["--config", path], env={"CRAWLD_PORT": "http"}),
                                 'CRAWLD_PORT: expected integer 0-65535, got "http"')

    def test_bad_listen_address_exits_2(self):
        path = self.config_file({"server": {"port": 0}})
        self.assert_config_error(run_binary(["--config", path, "--listen", "localhost"]), "server.listen")

    def test_missing_config_file_fails(self):
        result = run_binary(["--config", "/nonexistent/crawld.json"])
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("/nonexistent/crawld.json", result.stderr + result.stdout)

    def test_version(self):
        result = run_binary(["--version"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertRegex(result.stdout.strip(), r"^crawld \d+\.\d+\.\d+$")

    def test_help(self):
        result = run_binary(["--help"])
        self.assertEqual(result.returncode, 0)
        for option in ("--config", "--listen", "--port", "--version"):
            self.assertIn(option, result.stdout)

    def test_json_log_format(self):
        with Crawld(name="jsonlog", extra_args=["--log-format", "json"]) as server:
            server.request("GET", "/healthz")
            deadline = time.monotonic() + 5
            while "access" not in server.log_text() and time.monotonic() < deadline:
                time.sleep(0.05)
        lines = [line for line in server.log_text().splitlines() if line.strip()]
        self.assertGreaterEqual(len(lines), 2)
        for line in lines:
            record = json.loads(line)
            self.assertIn("level", record)
            self.assertIn("msg", record)

    def test_access_log_is_buffered_and_nothing_is_lost(self):
        # Buffered for a minute: the lines come on SIGHUP and on a graceful
        # stop, not one write per request.
        config = {"log": {"level": "info", "access_log": True, "flush_ms": 60000}}
        with Crawld(config, name="accesslog") as server:
            for i in range(20):
                self.assertEqual(server.request("GET", "/healthz?first=%d" % i)[0], 200)
            time.sleep(0.3)
            self.assertNotIn("first=", server.log_text())
            server.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while "first=19" not in server.log_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(sum("/healthz?first=" in line for line in server.log_text().splitlines()), 20)
            for i in range(30):
                self.assertEqual(server.request("GET", "/healthz?second=%d" % i)[0], 200)
            self.assertEqual(server.stop(), 0)
        lines = server.log_text().splitlines()
        second = [n for n, line in enumerate(lines) if "/healthz?second=" in line]
        self.assertEqual(len(second), 30)
        stopped = [n for n, line in enumerate(lines) if line.endswith(" stopped")]
        self.assertTrue(stopped and max(second) < stopped[-1], lines[-5:])

    def test_access_log_flushes_within_flush_ms(self):
        flush_ms = 200
        config = {"log": {"level": "info", "access_log": True, "flush_ms": flush_ms}}
        with Crawld(config, name="accesslog-flush") as server:
            server.request("GET", "/healthz?soon=1")
            sent = time.monotonic()
            # Slack for sanitizer builds and a busy machine: ten periods.
            while "soon=1" not in server.log_text() and time.monotonic() - sent < flush_ms * 10 / 1000:
                time.sleep(0.02)
            self.assertIn("soon=1", server.log_text())

    def test_sigterm_stops_promptly(self):
        server = Crawld(name="sigterm").start()
        started = time.monotonic()
        self.assertEqual(server.stop(), 0)
        self.assertLess(time.monotonic() - started, 5)

    def test_sigterm_closes_idle_keep_alive_connections(self):
        server = Crawld(name="sigterm-idle").start()
        sock = server.socket()
        try:
            sock.sendall(raw_request("GET", "/healthz"))
            read_response(sock)
            started = time.monotonic()
            self.assertEqual(server.stop(), 0)
            self.assertLess(time.monotonic() - started, 5)
            self.assertTrue(closed_by_peer(sock, 1))
        finally:
            sock.close()


if __name__ == "__main__":
    crawld_harness.main()
