"""Time and peak memory to prepare a 12-megapixel phone photo and a 4000 × 3000 screenshot.

Run with `make bench-images` (or `.venv/bin/python -m benchmarks.images [--runs N]`); the
results go into docs/benchmarks.md by hand, with the machine they were measured on.

Peak memory is the growth of the process's peak resident set (VmHWM, reset before each case
through /proc/self/clear_refs), because Pillow allocates pixels outside Python's allocator
where tracemalloc cannot see them.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import platform
import re
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

from PIL import Image, ImageDraw

from chatapp.attachments.images import prepare_image

PHONE_PHOTO = (4032, 3024)  # 12.2 MP, the size of most phones' main camera
SCREENSHOT = (4000, 3000)


def phone_photo() -> bytes:
    """A detailed picture with sensor-like noise, as a camera would save it (JPEG q92)."""
    width, height = PHONE_PHOTO
    scene = Image.effect_mandelbrot((width // 4, height // 4), (-2.0, -1.2, 1.0, 1.2), 80)
    scene = scene.resize(PHONE_PHOTO, Image.Resampling.BICUBIC)
    noise = Image.effect_noise(PHONE_PHOTO, 24)
    picture = Image.merge("RGB", (scene, Image.blend(scene, noise, 0.3), noise))
    exif = Image.Exif()
    exif[0x0112] = 6  # turned: the pipeline must rotate it
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def screenshot() -> bytes:
    """Windows, panels and lines of text on flat colours, as an RGBA PNG like macOS saves."""
    image = Image.new("RGBA", SCREENSHOT, (246, 246, 248, 255))
    draw = ImageDraw.Draw(image)
    for column in range(4):
        left = 40 + column * 990
        draw.rectangle((left, 80, left + 950, 2900), fill=(255, 255, 255, 255), outline="#ccc")
        draw.rectangle((left, 80, left + 950, 140), fill=(60, 90, 200, 255))
        for line in range(130):
            text = f"{column}:{line:03d} def handler(request): return render(request, 'page.html')"
            draw.text((left + 20, 160 + line * 21), text, fill=(20, 20, 20, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def peak_rss_kib() -> int:
    with open("/proc/self/status") as status:
        found = re.search(r"VmHWM:\s+(\d+)", status.read())
    assert found, "needs Linux's /proc/self/status"
    return int(found.group(1))


def reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def peak_extra_mb(raw: bytes, tier: str) -> float:
    """In a fresh process: how far one preparation lifts the peak resident set, in MB.

    Fresh, because memory freed by an earlier run stays resident and would hide the peak.
    """
    reset_peak_rss()
    before = peak_rss_kib()
    prepare_image(raw, tier)
    return (peak_rss_kib() - before) / 1024


def durations_ms(raw: bytes, tier: str, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of ``runs`` calls (CPU time is what other processes on
    a busy machine do not inflate)."""
    prepare_image(raw, tier)  # warm up: plugins loaded, allocator primed
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        prepare_image(raw, tier)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    runs = parser.parse_args().runs
    cases = {"12 MP JPEG photo": phone_photo(), "4000×3000 PNG screenshot": screenshot()}
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{platform.machine()}, {os.cpu_count()} CPUs (load average {load}), "
          f"Python {platform.python_version()}, Pillow {Image.__version__}, {runs} runs each\n")
    print("| file | tier | size in → out | sent | p50 ms | p90 ms | CPU p50 ms | peak extra MB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, raw in cases.items():
        for tier in ("standard", "high"):
            result = prepare_image(raw, tier)
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                extra_mb = pool.submit(peak_extra_mb, raw, tier).result()
            wall, cpu = durations_ms(raw, tier, runs)
            print(
                f"| {name} ({len(raw) / 2**20:.1f} MB) | {tier} "
                f"| {result.original_width}×{result.original_height} → "
                f"{result.width}×{result.height} | {result.media_type}, "
                f"{result.byte_size / 1024:.0f} KB, {result.tokens} tokens "
                f"| {statistics.median(wall):.0f} | {statistics.quantiles(wall, n=10)[-1]:.0f} "
                f"| {statistics.median(cpu):.0f} | {extra_mb:.0f} |"
            )


if __name__ == "__main__":
    main()
