"""A site with as many pages as a crawl asks for, none of them stored: nginx
answers every path with one of three SSI templates (about 5, 10 and 15 KB,
picked by the path's last letter) whose title and heading echo the path and
whose relative links a/ b/ c/ ../ ./ ../a/ make a tree of unique URLs,
fan-out 3, with three duplicate links a page (so the seen set does real
work). /robots.txt allows everything; /sitemap.xml is 404.

Used by the large-crawl test and bench/scale. nginx listens on 127.0.0.1 on
a free port, under its own prefix; with `access_log` it logs each request's
URI (one per line) to `self.access_log`. The prefix is in the system's
temporary folder, not under `out_dir`: nginx's workers run as www-data and
must be able to reach the templates, which a checkout under a private
folder would not let them.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

LINKS = '<a href="a/">a</a> <a href="b/">b</a> <a href="c/">c</a> <a href="../">up</a> ' \
        '<a href="./">here</a> <a href="../a/">sibling</a>'
WORDS = "crawl frontier season league table fixture result player score match round".split()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _template(size):
    head = ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Page <!--# echo var="path" --></title>'
            '</head>\n<body><h1><!--# echo var="path" --></h1>\n<nav>' + LINKS + '</nav>\n<p>')
    tail = '</p>\n</body></html>\n'
    filler, i = [], 0
    while len(head) + len(tail) + sum(len(w) + 1 for w in filler) < size:
        filler.append(WORDS[i % len(WORDS)])
        i += 1
    return head + " ".join(filler) + tail


class TreeSite:
    def __init__(self, access_log=False):
        self.prefix = tempfile.mkdtemp(prefix="crawld-tree-site-")
        os.chmod(self.prefix, 0o755)
        self.port = _free_port()
        self.access_log = os.path.join(self.prefix, "access.log") if access_log else None
        for name, size in (("t5", 5000), ("t10", 10000), ("t15", 15000)):
            with open(os.path.join(self.prefix, name + ".shtml"), "w") as f:
                f.write(_template(size))
        user = "user www-data;" if os.geteuid() == 0 else ""
        log = (f'log_format uri "$request_uri"; access_log {self.access_log} uri;' if access_log
               else "access_log off;")
        conf = f"""
{user}
worker_processes 1;
daemon off;
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  {log}
  client_body_temp_path {self.prefix}/body;
  proxy_temp_path {self.prefix}/proxy;
  fastcgi_temp_path {self.prefix}/fastcgi;
  uwsgi_temp_path {self.prefix}/uwsgi;
  scgi_temp_path {self.prefix}/scgi;
  keepalive_requests 1000000;
  default_type text/html;
  map $uri $template {{
    ~a/$ /t5.shtml;
    ~b/$ /t10.shtml;
    default /t15.shtml;
  }}
  server {{
    listen 127.0.0.1:{self.port};
    root {self.prefix};
    location = /robots.txt {{ default_type text/plain; return 200 "User-agent: *\\nAllow: /\\n"; }}
    location = /sitemap.xml {{ return 404; }}
    # The start-up probe's: never logged, so it cannot be counted as a page.
    location = /ready {{ access_log off; return 204; }}
    location / {{
      set $path $uri;
      ssi on;
      try_files $template =404;
    }}
  }}
}}
"""
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        for name in os.listdir(self.prefix):
            os.chmod(os.path.join(self.prefix, name), 0o644)
        self.proc = subprocess.Popen(["nginx", "-p", self.prefix, "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ready", timeout=1) as r:
                    r.read()
                break
            except (OSError, urllib.error.URLError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("tree site's nginx did not start: " + self.proc.stderr.read().decode())
                time.sleep(0.05)

    @property
    def seed(self):
        return f"http://127.0.0.1:{self.port}/"

    def requests(self):
        """The URIs requested so far (nginx writes its log line by line)."""
        with open(self.access_log) as f:
            return [line.rstrip("\n") for line in f]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.prefix, ignore_errors=True)
