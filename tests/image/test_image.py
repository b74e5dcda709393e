"""The container images, built and run: scripts/image builds crawld,
crawld-demo and crawld-postgres from docker/Dockerfile; PostgreSQL, the demo
site and crawld then run as containers on a network of their own, crawld's
port published on 127.0.0.1 only. A deep crawl through that port must leave
its page rows in PostgreSQL; crawld must run as uid 10001 in an image with no
compiler, under 150 MB, whose HEALTHCHECK passes; SIGTERM to the container
must end it with exit code 0 and the job's end recorded. Then
docker/compose.yaml (with compose.local.yaml) comes up under podman-compose
and runs the operator's deep crawl.

Skips (exit code 77, CTest's SKIP_RETURN_CODE) when podman is not installed
or cannot run a container here, saying why; under CI=true that is a failure.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

ROOT = os.environ.get("CRAWLD_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SKIP = 77
MAX_IMAGE_MB = 150
CRAWLD_UID = 10001
TAG = f"crawld-image-test-{os.getpid()}"

RUNC = shutil.which("runc") is not None
PODMAN = ["podman"] + (["--runtime", "runc"] if RUNC else [])
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"] if RUNC else []


def podman(*args, check=True, timeout=120):
    r = subprocess.run(PODMAN + list(args), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def skip(why):
    if os.environ.get("CI") == "true":
        print(f"image test: cannot run under CI: {why}", file=sys.stderr)
        sys.exit(1)
    print(f"image test SKIPPED: {why}", file=sys.stderr)
    # scripts/test names the reason in its summary.
    with open(os.path.join(out_dir(), "image-skipped.txt"), "w") as f:
        f.write(why + "\n")
    sys.exit(SKIP)


def http(port, method, path, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def published_port(container, port):
    out = podman("port", container, f"{port}/tcp").stdout.strip().splitlines()[0]
    host, _, number = out.rpartition(":")
    assert host == "127.0.0.1", f"{container}'s port {port} is published on {host}, not 127.0.0.1"
    return int(number)


def wait_for(what, check, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, AssertionError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last})")


class ImageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        t0 = time.monotonic()
        r = subprocess.run([os.path.join(ROOT, "scripts", "image")], cwd=ROOT, capture_output=True, text=True,
                           timeout=1000)
        cls.build_s = time.monotonic() - t0
        if r.returncode != 0:
            raise AssertionError(f"scripts/image failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-6000:]}")
        print(f"FIGURE image build_s={cls.build_s:.0f}", file=sys.stderr)
        for line in r.stderr.splitlines():
            if line.startswith("== image:") and " built in " in line:
                print(line, file=sys.stderr)
        cls.names = []
        # unittest skips tearDownClass when setUpClass fails: a class cleanup
        # still runs, so nothing is left behind whatever fails below.
        cls.addClassCleanup(cls.remove_containers)
        cls.network = TAG
        podman("network", "create", cls.network)
        cls.pg = cls.run_container(
            "pg", "crawld-postgres", "-e", "POSTGRES_USER=crawld", "-e", "POSTGRES_PASSWORD=crawld",
            "-e", "POSTGRES_DB=crawld", "--network-alias", "postgres", "-p", "127.0.0.1::5432")
        cls.demo = cls.run_container("demo", "crawld-demo", "--network-alias", "demo")
        wait_for("PostgreSQL healthy", lambda: podman("healthcheck", "run", cls.pg, check=False).returncode == 0, 60)
        cls.pg_url = f"postgresql://crawld:crawld@127.0.0.1:{published_port(cls.pg, 5432)}/crawld"
        cls.crawld = cls.run_container(
            "crawld", "crawld", "-p", "127.0.0.1::8080",
            "-e", "CRAWLD_DATABASE_URL=postgresql://crawld:crawld@postgres:5432/crawld",
            "-v", f"{os.path.join(ROOT, 'docker', 'compose.json')}:/etc/crawld/compose.json:ro",
            command=["--config", "/etc/crawld/compose.json", "--listen", "0.0.0.0"])
        cls.port = published_port(cls.crawld, 8080)
        wait_for("crawld /readyz", lambda: http(cls.port, "GET", "/readyz")[0] == 200, 60)

    @classmethod
    def run_container(cls, role, image, *args, command=()):
        name = f"{TAG}-{role}"
        podman("rm", "-f", "-v", name, check=False)
        cls.names.append(name)
        podman("run", "-d", "--name", name, "--network", cls.network, *ULIMITS, *args, image, *command)
        return name

    @classmethod
    def remove_containers(cls):
        for name in getattr(cls, "names", []):
            if os.environ.get("CRAWLD_TEST_KEEP_CONTAINERS"):
                continue
            logs = podman("logs", name, check=False)
            with open(os.path.join(out_dir(), f"{name}.log"), "w") as f:
                f.write(logs.stdout + logs.stderr)
            podman("rm", "-f", "-v", "-t", "5", name, check=False)
        if hasattr(cls, "network"):
            podman("network", "rm", "-f", cls.network, check=False)

    def psql(self, sql):
        return subprocess.run(["psql", "-Atq", self.pg_url, "-c", sql], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    def test_1_image_shape(self):
        size = int(podman("image", "inspect", "--format", "{{.Size}}", "crawld").stdout)
        print(f"FIGURE image crawld_mb={size / 1e6:.1f}", file=sys.stderr)
        self.assertLess(size, MAX_IMAGE_MB * 1_000_000, f"crawld image is {size / 1e6:.0f} MB")
        for other in ("crawld-demo", "crawld-postgres"):
            mb = int(podman("image", "inspect", "--format", "{{.Size}}", other).stdout) / 1e6
            print(f"FIGURE image {other}_mb={mb:.1f}", file=sys.stderr)
        health = podman("image", "inspect", "--format", "{{json .Config.Healthcheck}}", "crawld").stdout
        self.assertIn("/healthz", health, "the image lost its HEALTHCHECK")
        # No compiler: neither the programs nor the packages.
        r = podman("run", "--rm", *ULIMITS, "--entrypoint", "sh", "crawld", "-c",
                   "ls /usr/bin/*gcc* /usr/bin/*g++* /usr/bin/cc /usr/bin/c++ /usr/bin/*clang* /usr/bin/ld 2>/dev/null;"
                   " dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n' 'gcc*' 'g++*' 'cpp*' 'binutils*' 'clang*'"
                   " 2>/dev/null | awk '$1 == \"ii\" && $2 != \"gcc-12-base\" { print $2 }' || true", check=False)
        self.assertEqual(r.stdout.strip(), "", "the runtime image holds a compiler:\n" + r.stdout)
        # Docker's usual build context leaves nothing of the checkout's state.
        r = podman("run", "--rm", *ULIMITS, "--entrypoint", "sh", "crawld", "-c",
                   "ls -d /src /usr/local/bin/* /etc/crawld/*", check=False)
        self.assertEqual(sorted(r.stdout.split()), ["/etc/crawld/crawld.json", "/usr/local/bin/crawld"], r.stdout)

    def test_2_runs_as_the_unprivileged_user_and_is_healthy(self):
        status = podman("exec", self.crawld, "cat", "/proc/1/status").stdout
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        self.assertEqual({int(u) for u in uids}, {CRAWLD_UID}, status)
        comm = podman("exec", self.crawld, "cat", "/proc/1/comm").stdout.strip()
        self.assertEqual(comm, "crawld")
        wait_for("HEALTHCHECK", lambda: podman("healthcheck", "run", self.crawld, check=False).returncode == 0, 30)
        self.assertEqual(http(self.port, "GET", "/healthz")[0], 200)

    def test_3_deep_crawl_rows_in_postgres(self):
        status, body = http(self.port, "POST", "/start", {"target": "demo", "deep": True, "season": 2024})
        self.assertEqual(status, 202, body)
        job = json.loads(body)["id"]
        done = wait_for("the deep crawl", lambda: (lambda j: j if j["state"] not in ("queued", "running") else None)(
            json.loads(http(self.port, "GET", f"/jobs/{job}")[1])), 120)
        self.assertEqual(done["state"], "succeeded", done)
        progress = done["progress"]
        pages = progress["fetched"] + progress["failed"] + progress["skipped"]
        self.assertGreater(progress["fetched"], 13, "a deep crawl of the demo site reaches teams and matches")
        # Rows are written in batches: wait until the writer is drained.
        wait_for("rows written", lambda: self.psql(
            f"select count(*) from crawl_pages where job_id = '{job}'") == str(pages), 30)
        distinct = self.psql(f"select count(distinct url) from crawl_pages where job_id = '{job}'")
        self.assertEqual(distinct, str(pages))
        self.assertEqual(self.psql(f"select state from crawl_jobs where id = '{job}'"), "succeeded")
        titled = self.psql(f"select count(*) from crawl_pages where job_id = '{job}' and title like 'Season 2024%'")
        self.assertGreaterEqual(int(titled), 1)
        print(f"FIGURE image deep_crawl_pages={pages}", file=sys.stderr)

    def test_4_sigterm_exits_0_with_the_job_recorded(self):
        status, body = http(self.port, "POST", "/start", {"target": "demo", "deep": True, "season": 2023})
        self.assertEqual(status, 202, body)
        job = json.loads(body)["id"]
        t0 = time.monotonic()
        podman("kill", "--signal", "TERM", self.crawld)
        code = wait_for("the container to exit", lambda: podman(
            "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", self.crawld).stdout.split()
            if podman("inspect", "--format", "{{.State.Status}}", self.crawld).stdout.strip() == "exited"
            else None, 30)
        self.assertEqual(code[1], "0", f"exit code {code[1]}")
        print(f"FIGURE image sigterm_to_exit_s={time.monotonic() - t0:.1f}", file=sys.stderr)
        state = self.psql(f"select state from crawl_jobs where id = '{job}'")
        self.assertIn(state, ("succeeded", "cancelled", "interrupted"), "the job's end was not recorded")
        logs = podman("logs", self.crawld).stderr + podman("logs", self.crawld).stdout
        self.assertIn("stopped", logs)

    def test_5_compose_up_crawls_and_comes_down(self):
        # docker/compose.yaml as written, with docker/compose.local.yaml for
        # PostgreSQL, brought up by podman-compose on the images just built.
        if shutil.which("podman-compose") is None:
            if os.environ.get("CI") == "true":
                self.fail("podman-compose is not installed (scripts/setup installs it)")
            self.skipTest("podman-compose is not installed (scripts/setup installs it)")
        env = dict(os.environ, CRAWLD_PORT=str(free_port()))
        if RUNC:
            # podman-compose runs plain podman: runc and the ulimits go in
            # through a containers.conf of the test's own.
            conf = os.path.join(out_dir(), "containers.conf")
            with open(conf, "w") as f:
                f.write('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]\n'
                        '[engine]\nruntime = "runc"\n')
            env["CONTAINERS_CONF"] = conf
        project = TAG.replace("-", "_") + "_compose"
        compose = ["podman-compose", "-p", project, "-f", os.path.join(ROOT, "docker", "compose.yaml"),
                   "-f", os.path.join(ROOT, "docker", "compose.local.yaml")]

        def run(*args, check=True):
            r = subprocess.run(compose + list(args), env=env, capture_output=True, text=True, timeout=300)
            with open(os.path.join(out_dir(), f"{project}.log"), "a") as f:
                f.write(f"$ {' '.join(args)}\n{r.stdout}{r.stderr}")
            if check and r.returncode != 0:
                raise AssertionError(f"podman-compose {' '.join(args)} failed ({r.returncode}):\n{r.stderr[-3000:]}")
            return r

        port = int(env["CRAWLD_PORT"])
        try:
            run("up", "-d")
            wait_for("compose's crawld /readyz", lambda: http(port, "GET", "/readyz")[0] == 200, 90)
            # The operator's command, as curl sends it.
            r = subprocess.run(["curl", "-s", "-X", "POST", f"http://127.0.0.1:{port}/start",
                                "-d", '{"deep":true,"season":2024}'], capture_output=True, text=True, timeout=30)
            job = json.loads(r.stdout)
            self.assertIn("id", job, r.stdout)
            done = wait_for("the compose crawl to end", lambda: (lambda j: j if j["state"] not in ("queued", "running")
                                                               else None)(json.loads(http(port, "GET", f"/jobs/{job['id']}")[1])), 120)
            self.assertEqual(done["state"], "succeeded", done)
            self.assertGreater(done["progress"]["fetched"], 1, done)
            print(f"FIGURE image compose_deep_crawl_pages={done['progress']['fetched']}", file=sys.stderr)
            names = run("ps").stdout
            for service in ("postgres", "demo", "crawld"):
                self.assertIn(f"{project}_{service}_1", names)
        finally:
            run("down", "-v", "-t", "10", check=False)
            # podman-compose 1.0 leaves the project's network behind.
            podman("network", "rm", "-f", f"{project}_default", check=False)
        self.assertNotIn(f"{project}_crawld_1", podman("ps", "-a", "--format", "{{.Names}}").stdout)
        self.assertNotIn(f"{project}_pgdata", podman("volume", "ls", "--format", "{{.Name}}").stdout)
        self.assertNotIn(f"{project}_default", podman("network", "ls", "--format", "{{.Name}}").stdout)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def out_dir():
    path = os.environ.get("CRAWLD_TEST_OUT") or "/tmp/crawld-test-out"
    os.makedirs(path, exist_ok=True)
    return path


def main():
    try:
        os.remove(os.path.join(out_dir(), "image-skipped.txt"))
    except FileNotFoundError:
        pass
    if shutil.which("podman") is None:
        skip("podman is not installed (scripts/setup installs it)")
    r = subprocess.run(["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"], capture_output=True, text=True)
    if r.returncode != 0:
        skip(f"podman cannot run here: {r.stderr.strip()}")
    # The base images first (made with mmdebstrap when missing), then one
    # container: a machine that cannot run one skips rather than fails.
    r = subprocess.run([os.path.join(ROOT, "scripts", "image"), "base"], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"scripts/image base failed ({r.returncode}):\n{r.stderr[-6000:]}")
    r = subprocess.run(PODMAN + ["run", "--rm", *ULIMITS, "debian:bookworm-slim", "true"], capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        skip(f"podman cannot run a container here: {r.stderr.strip()}")
    program = unittest.main(exit=False, verbosity=2)
    sys.exit(0 if program.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
