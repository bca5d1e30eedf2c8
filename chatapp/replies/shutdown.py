"""A server process asked to stop (SIGTERM, Ctrl-C) lets its replies end properly.

Daphne runs on Twisted: on SIGTERM the reactor fires its "before shutdown" triggers and waits
for the Deferreds they return before it stops the event loop. Our trigger gives running
replies ``CHATAPP_SHUTDOWN_GRACE_SECONDS`` to finish, then stops the rest, which writes each
one's text, usage and status ``interrupted`` in its final write. Without this the loop would
simply stop and leave them "streaming" for the other processes' sweepers (or the next start)
to clean up.
"""

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

_installed: set[int] = set()

# Past the grace period, how long the final writes and the process's own exit may take before
# it leaves regardless (see _leave_if_stuck).
EXIT_AFTER_GRACE_SECONDS = 5.0


def install(finish_replies: Callable[[float], Awaitable[None]], grace: float) -> bool:
    """Register the trigger once, when running inside daphne's reactor; True if registered.
    ``grace``: what running replies get (CHATAPP_SHUTDOWN_GRACE_SECONDS)."""
    if "twisted.internet.reactor" not in sys.modules:
        return False  # not under daphne (tests, management commands)
    from twisted.internet import defer, reactor

    if not reactor.running or id(reactor) in _installed:
        return False
    _installed.add(id(reactor))

    def before_shutdown():
        logger.info("shutting down: replies get %.1f s to finish", grace)
        return defer.Deferred.fromFuture(asyncio.ensure_future(finish_replies(grace)))

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
    return True


def start_exit_deadline(grace: float) -> None:
    """The server process is stopping (daphne's reactor's "before shutdown",
    chatapp/runtime/server.py):
    from now it has the replies' grace and EXIT_AFTER_GRACE_SECONDS to end by itself."""
    seconds = grace + EXIT_AFTER_GRACE_SECONDS
    threading.Thread(target=_leave_if_stuck, args=(seconds,), name="exit-deadline",
                     daemon=True).start()


def _leave_if_stuck(seconds: float) -> None:
    """Ends the process if it is still here ``seconds`` after the stop began. An HTTP request
    caught by the stop can deadlock it: daphne cancels the request's task and waits for it to
    end, while the task waits for its sync thread, which waits for the cancelled task (asgiref),
    so the reactor never stops and the process hangs until killed. By now the replies have had
    their grace and their final writes."""
    time.sleep(seconds)  # a deadline, not a wait for an event: a normal exit ends this thread
    logger.warning("still stopping %.0f s after the stop began (a request caught by it): "
                   "leaving now", seconds)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
