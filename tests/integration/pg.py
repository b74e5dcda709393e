"""PostgreSQL for integration tests: the run's shared throwaway cluster (the
CTest fixture writes its URL to CRAWLD_PG_URL_FILE), a fresh database per
test, dedicated clusters for outage tests, and queries through psql."""
import os
import socket
import subprocess
import tempfile
import uuid

from sites import ROOT

PG = os.path.join(ROOT, "scripts", "pg")


def shared_url():
    path = os.environ.get("CRAWLD_PG_URL_FILE")
    if not path or not os.path.exists(path):
        raise RuntimeError("CRAWLD_PG_URL_FILE is not set or missing (run through ctest with the pg fixture)")
    with open(path) as f:
        return f.read().strip()


def with_database(url, name):
    return url.rsplit("/", 1)[0] + "/" + name


def create_database(url=None):
    """A new empty database in the cluster of `url` (default: the shared one)."""
    url = url or shared_url()
    name = "t_" + uuid.uuid4().hex[:12]
    query(url, f"CREATE DATABASE {name}")
    return with_database(url, name)


def query(url, sql):
    """Runs SQL through psql; returns rows as lists of strings."""
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-tA", "-F", "\t", "-c", sql],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def scalar(url, sql):
    rows = query(url, sql)
    return rows[0][0] if rows else None


class DedicatedCluster:
    """A cluster of its own, for tests that stop and restart the server."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="crawld-pg-", dir="/tmp")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = self.start()

    def start(self):
        return subprocess.run([PG, "start", self.dir, str(self.port)], capture_output=True, text=True,
                              check=True).stdout.strip()

    def stop(self, mode="fast"):
        subprocess.run([PG, "stop", self.dir, mode], check=True)

    def destroy(self):
        self.stop("immediate")
        subprocess.run(["rm", "-rf", self.dir])
