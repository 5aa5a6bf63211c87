#!/usr/bin/env python3
"""Example program for warden: a feature-flagged reporter, disabled by default.

Enabled with FEATURE_REPORTS=true in warden's environment (see config/warden.toml).
Prints a small report every ten seconds.
"""

import datetime
import os
import time


def main() -> None:
    every = int(os.environ.get("REPORT_EVERY_SECONDS", "10"))
    count = 0
    while True:
        count += 1
        now = datetime.datetime.now().isoformat(timespec="seconds")
        print(f"{now} reports: report #{count} (every {every}s)", flush=True)
        time.sleep(every)


if __name__ == "__main__":
    main()
