#!/usr/bin/python3
"""A DNS server for the crawler tests, on 127.0.0.1 (UDP and TCP), with
Debian's python3-dnslib.

    dns_server.py --answer NAME=IP ... [--silent NAME ...] [--ttl S] [--log FILE]

Prints its port on the first line of standard output. NAME=IP answers A
(or AAAA, for an IPv6 address) queries for NAME; a query for a --silent name
is never answered; anything else is NXDOMAIN (and an empty answer for a
known name's other type). Every query is appended to --log as
"name type" lines.
"""
import argparse
import ipaddress
import socket
import socketserver
import sys
import threading

from dnslib import AAAA, A, QTYPE, RCODE, RR, DNSRecord


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--answer", action="append", default=[])
    parser.add_argument("--silent", action="append", default=[])
    parser.add_argument("--ttl", type=int, default=300)
    parser.add_argument("--log", default="")
    options = parser.parse_args()
    answers = {}
    for item in options.answer:
        name, ip = item.split("=", 1)
        answers.setdefault(name.lower().rstrip(".") + ".", []).append(ipaddress.ip_address(ip))
    silent = {name.lower().rstrip(".") + "." for name in options.silent}
    lock = threading.Lock()

    def reply_to(data):
        request = DNSRecord.parse(data)
        qname = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        if options.log:
            with lock, open(options.log, "a") as f:
                f.write("%s %s\n" % (qname, qtype))
        if qname in silent:
            return None
        reply = request.reply()
        if qname not in answers:
            reply.header.rcode = RCODE.NXDOMAIN
        for ip in answers.get(qname, []):
            if ip.version == 4 and qtype == "A":
                reply.add_answer(RR(qname, QTYPE.A, rdata=A(str(ip)), ttl=options.ttl))
            elif ip.version == 6 and qtype == "AAAA":
                reply.add_answer(RR(qname, QTYPE.AAAA, rdata=AAAA(str(ip)), ttl=options.ttl))
        return reply.pack()

    class Udp(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            answer = reply_to(data)
            if answer is not None:
                sock.sendto(answer, self.client_address)

    class Tcp(socketserver.BaseRequestHandler):
        def handle(self):
            length = self.request.recv(2)
            if len(length) < 2:
                return
            data = self.request.recv(int.from_bytes(length, "big"))
            answer = reply_to(data)
            if answer is not None:
                self.request.sendall(len(answer).to_bytes(2, "big") + answer)

    # UDP and TCP on one port: the kernel picks the UDP one; when that port
    # is taken for TCP (another test's server), try again.
    for attempt in range(50):
        udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Udp)
        port = udp.server_address[1]
        try:
            tcp = socketserver.ThreadingTCPServer(("127.0.0.1", port), Tcp)
            break
        except OSError:
            udp.server_close()
    else:
        sys.exit("dns_server: no port free for both UDP and TCP")
    for server in (udp, tcp):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(port, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    socket.setdefaulttimeout(None)
    main()
