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
import sys
from collections.abc import Awaitable, Callable

from django.conf import settings

logger = logging.getLogger(__name__)

_installed: set[int] = set()


def install(finish_replies: Callable[[float], Awaitable[None]]) -> bool:
    """Register the trigger once, when running inside daphne's reactor; True if registered."""
    if "twisted.internet.reactor" not in sys.modules:
        return False  # not under daphne (tests, management commands)
    from twisted.internet import defer, reactor

    if not reactor.running or id(reactor) in _installed:
        return False
    _installed.add(id(reactor))

    def before_shutdown():
        grace = settings.CHATAPP_SHUTDOWN_GRACE_SECONDS
        logger.info("shutting down: replies get %.1f s to finish", grace)
        return defer.Deferred.fromFuture(asyncio.ensure_future(finish_replies(grace)))

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
    return True
