#!/usr/bin/env python3
"""Example program for warden: a watcher that prints a timestamped line every second.

Stands in for a mail or file watcher. It has no shutdown handler on purpose: the
default SIGTERM action ends it at once, which is what warden's stop_signal expects.
"""

import datetime
import time


def main() -> None:
    tick = 0
    while True:
        tick += 1
        now = datetime.datetime.now().isoformat(timespec="seconds")
        # flush: warden reads the pipe line by line; a buffered line would arrive late.
        print(f"{now} watcher: tick {tick}, all quiet", flush=True)
        time.sleep(1)


if __name__ == "__main__":
    main()
