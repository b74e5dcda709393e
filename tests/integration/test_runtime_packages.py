"""docker/runtime-packages.txt must list exactly the Debian packages whose
libraries the built binary loads (scripts/runtime-packages), so the runtime
image cannot drift from the build."""
import os
import subprocess
import unittest

import crawld_harness
from sites import ROOT


class RuntimePackagesTest(unittest.TestCase):
    def test_list_matches_the_binary(self):
        derived = subprocess.run([os.path.join(ROOT, "scripts", "runtime-packages"), crawld_harness.crawld_bin()],
                                 capture_output=True, text=True, check=True).stdout.split()
        with open(os.path.join(ROOT, "docker", "runtime-packages.txt")) as f:
            committed = f.read().split()
        self.assertIn("libpqxx-6.4", derived)
        self.assertEqual(committed, derived,
                         "regenerate with: scripts/runtime-packages > docker/runtime-packages.txt")


if __name__ == "__main__":
    crawld_harness.main()
