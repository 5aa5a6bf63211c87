#!/usr/bin/env python3
"""Example program for warden: a worker that handles SIGTERM cleanly.

It does a "job" every few seconds. On SIGTERM (warden's stop_signal) it finishes
the job in hand, says so, and exits 0, well within stop_timeout. It reads GREETING
from `env` and only reports whether ANTHROPIC_API_KEY (from `env_passthrough`) is
set: a secret is never printed.
"""

import os
import signal
import time

stopping = False


def on_sigterm(signum, frame) -> None:
    global stopping
    stopping = True


def main() -> None:
    signal.signal(signal.SIGTERM, on_sigterm)
    greeting = os.environ.get("GREETING", "hello")
    has_key = "set" if os.environ.get("ANTHROPIC_API_KEY") else "not set"
    print(f"worker: {greeting}; ANTHROPIC_API_KEY is {has_key}", flush=True)
    job = 0
    while not stopping:
        job += 1
        print(f"worker: job {job} done", flush=True)
        # Sleep in short steps so that a SIGTERM is answered within a second.
        for _ in range(30):
            if stopping:
                break
            time.sleep(0.1)
    print(f"worker: SIGTERM received after {job} jobs, shutting down cleanly", flush=True)


if __name__ == "__main__":
    main()
