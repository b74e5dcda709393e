"""docker/runtime-packages.txt must list exactly the Debian packages whose
libraries the built binary loads (scripts/runtime-packages), so the runtime
image cannot drift from the build."""
import os
import subprocess
import unittest

import crawld_harness
from sites import ROOT


# Loaded by the release build only: sanitizer builds keep the system
# allocator (CMakeLists.txt, CRAWLD_ALLOCATOR).
RELEASE_ONLY = {"libmimalloc2.0"}


class RuntimePackagesTest(unittest.TestCase):
    def test_list_matches_the_binary(self):
        binary = crawld_harness.crawld_bin()
        derived = subprocess.run([os.path.join(ROOT, "scripts", "runtime-packages"), binary],
                                 capture_output=True, text=True, check=True).stdout.split()
        with open(os.path.join(ROOT, "docker", "runtime-packages.txt")) as f:
            committed = f.read().split()
        if crawld_harness.sanitized(binary):
            committed = [p for p in committed if p not in RELEASE_ONLY]
        self.assertIn("libpqxx-6.4", derived)
        self.assertEqual(committed, derived,
                         "regenerate with: scripts/runtime-packages > docker/runtime-packages.txt")


if __name__ == "__main__":
    crawld_harness.main()
