"""Preparing a file in a process of its own: bounded in number, time and memory.

A small file can need a great deal of work: an 873 KB PNG decodes to 196 MB of pixels, a
289 KB Word document unpacks to 95 MB of XML. Done in the server's own threads, that memory
stayed with the server after the upload (the allocator keeps what it once had: six such PNGs
took a process from 2.0 to 4.9 GB for good), and nothing could stop a preparation that ran
for minutes. So the CPU-heavy, pure parts (``images.prepare_image``,
``documents.prepare_document``) run in a short-lived child process:

- at most ``MAX_CONCURRENT`` at once in a server process; an upload waits up to
  ``QUEUE_WAIT_SECONDS`` for a turn, then is answered 503 in plain words;
- each child may use ``MEMORY_LIMIT_BYTES`` of address space beyond what it starts with
  (a backstop: the preparers refuse what would need more, from the file's header, first);
- each child gets ``TIME_LIMIT_SECONDS``; then it is killed and the upload answered 422;
- when the child ends, all its memory goes back to the system.

Children come from a fork server that has the preparers already imported, so starting one
costs milliseconds, and it never copies the server's own memory (threads, sockets, Django).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import sys
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from .uploads import UploadRejected

MAX_CONCURRENT = 2
QUEUE_WAIT_SECONDS = 15.0
TIME_LIMIT_SECONDS = 60.0
MEMORY_LIMIT_BYTES = 1536 * 1024 * 1024

T = TypeVar("T")


def _preload() -> list[str]:
    """What the fork server imports once: the preparers, and the program's main module, which
    multiprocessing runs again in every child (``python -m chatapp.runtime.server``: a few class
    definitions once its imports are loaded; pytest's and scripts' own are not re-run)."""
    modules = ["chatapp.attachments.images", "chatapp.attachments.documents"]
    main = getattr(sys.modules["__main__"].__spec__, "name", None)
    if main and not main.endswith("__main__"):
        modules.append(main)
    return modules


_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(_preload())

# One semaphore per event loop: a server process has one loop, so this is per process.
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def busy() -> UploadRejected:
    return UploadRejected(
        "The server is busy preparing other files. Please try again in a minute.", 503
    )


def too_slow() -> UploadRejected:
    return UploadRejected(
        f"This file took longer than {TIME_LIMIT_SECONDS:g} seconds to prepare and was "
        "given up. Please attach a smaller or simpler version of it (for a document, a PDF).",
        422,
    )


def too_much_memory() -> UploadRejected:
    return UploadRejected(
        "This file needs too much memory to prepare. Please attach a smaller version of it "
        "(fewer pixels for an image; for a document, a PDF).",
        413,
    )


@asynccontextmanager
async def preparation_slot() -> AsyncIterator[None]:
    """A turn to prepare one file, waited for up to QUEUE_WAIT_SECONDS (else ``busy()``)."""
    loop = asyncio.get_running_loop()
    slots = _slots.setdefault(loop, asyncio.Semaphore(MAX_CONCURRENT))
    try:
        await asyncio.wait_for(slots.acquire(), QUEUE_WAIT_SECONDS)
    except TimeoutError:
        raise busy() from None
    try:
        yield
    finally:
        slots.release()


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _child(connection: Connection, function: Callable[..., Any], args: tuple,
           kwargs: dict[str, Any]) -> None:
    limit = _address_space() + MEMORY_LIMIT_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        outcome: tuple[str, Any] = ("done", function(*args, **kwargs))
    except UploadRejected as refused:
        outcome = ("refused", refused)
    except MemoryError:
        outcome = ("refused", too_much_memory())
    except BaseException as exc:  # a bug: reported in the parent as one
        outcome = ("failed", f"{type(exc).__name__}: {exc}")
    connection.send(outcome)
    connection.close()


def run_isolated(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in a child process; blocking, so call it off the loop.

    ``function`` must be importable and pure (no Django: the child has none). Raises what it
    raises as ``UploadRejected``, or ``too_slow()`` / ``too_much_memory()``."""
    receiver, sender = _context.Pipe(duplex=False)
    process = _context.Process(target=_child, args=(sender, function, args, kwargs),
                               daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(TIME_LIMIT_SECONDS):
            raise too_slow()
        kind, value = receiver.recv()
    except EOFError:  # died without a word: killed for its memory (or by the system)
        raise too_much_memory() from None
    finally:
        process.kill()
        process.join()
        receiver.close()
    if kind == "done":
        return value
    if kind == "refused":
        raise value
    raise RuntimeError(f"preparing a file failed in its process: {value}")
