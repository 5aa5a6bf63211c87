#!/usr/bin/env python3
"""Example program for warden: works for a while, then crashes with exit code 1.

It runs for a random 10 to 40 seconds, printing progress, then fails, so that the
restart policy, the backoff and the restart counters can be watched at work.
"""

import random
import sys
import time


def main() -> None:
    lifetime = random.uniform(10, 40)
    started = time.monotonic()
    print(f"flaky: started, will crash in {lifetime:.0f}s", flush=True)
    step = 0
    while time.monotonic() - started < lifetime:
        step += 1
        print(f"flaky: working, step {step}", flush=True)
        time.sleep(1)
    print("flaky: something went wrong, exiting with code 1", file=sys.stderr, flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
