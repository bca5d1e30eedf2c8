"""How long a second `make run` takes to print its login (docs/operations.md, "Start-up").

    .venv/bin/python scripts/start_time.py [--port 8123] [--runs 3]

Runs `make run` with its own CHATAPP_VAR_DIR (a temporary directory: the first run migrates
and collects static files there and is not counted), reads its output until "Press Ctrl-C to
stop.", and prints for each later run the seconds from `make run` to that line, the CPU each
of its processes had used by then (the launcher's is what delays daphne's start), and the load
average. Then stops it with Ctrl-C, as a user would.
"""

import argparse
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY = "Press Ctrl-C to stop."


def _cpu_by_process(session: int) -> list[tuple[float, str]]:
    """CPU seconds (user + system) of every process in the session, with its command."""
    tick = os.sysconf("SC_CLK_TCK")
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getsid(int(pid)) != session:
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()
        except (OSError, ProcessLookupError):
            continue
        found.append(((int(fields[11]) + int(fields[12])) / tick, command))
    return found


def one_run(port: int, var_dir: str) -> float:
    env = {**os.environ, "CHATAPP_VAR_DIR": var_dir}
    env.pop("ANTHROPIC_API_KEY", None)  # the offline upstream, as a new user starts
    load = Path("/proc/loadavg").read_text().split()[:3]
    started = time.monotonic()
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        for line in make.stdout:
            if READY in line:
                break
        else:
            raise SystemExit("make run ended before it printed its login")
        took = time.monotonic() - started
        print(f"{took:5.2f} s to '{READY}' (load average before: {' '.join(load)})")
        for cpu, command in _cpu_by_process(make.pid):
            print(f"    {cpu:5.2f} s CPU  {command[:90]}")
        return took
    finally:
        os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="chatapp-start-") as var_dir:
        print("first run (migrates, collects static files; not counted):")
        one_run(args.port, var_dir)
        times = sorted(one_run(args.port, var_dir) for _ in range(args.runs))
    print(f"second and later runs: median {times[len(times) // 2]:.2f} s, "
          f"fastest {times[0]:.2f} s, slowest {times[-1]:.2f} s")


if __name__ == "__main__":
    main()
