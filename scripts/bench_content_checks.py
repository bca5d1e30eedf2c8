"""How long the content checks take on text of a few sizes (docs/benchmarks.md).

    .venv/bin/python scripts/bench_content_checks.py

The text is prose of the offline upstream's sentences with, here and there, a phone number
and a card number; each size is checked five times and the best run is reported.
"""

import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from chatapp.offline_upstream.replies import SENTENCES  # noqa: E402
from chatapp.safety.content_checks import find  # noqa: E402


def prose(chars: int, rng: random.Random) -> str:
    parts, length = [], 0
    while length < chars:
        sentence = rng.choice(SENTENCES)
        if rng.random() < 0.01:
            sentence += " Call +1 650-253-0000."
        if rng.random() < 0.005:
            sentence += " Card 4111 1111 1111 1111."
        parts.append(sentence)
        length += len(sentence) + 1
    return " ".join(parts)


def main() -> None:
    rng = random.Random(1)
    print("| text | best of 5 | findings |\n|---|---|---|")
    for size in (2_000, 10_000, 100_000, 1_000_000):
        text = prose(size, rng)
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            findings = find(text)
            best = min(best, time.perf_counter() - started)
        print(f"| {size:,} characters | {best * 1000:.1f} ms | {len(findings)} |")


if __name__ == "__main__":
    main()
