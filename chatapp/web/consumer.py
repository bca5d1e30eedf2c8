"""The conversation socket: authorise, parse frames, delegate to ``replies``, forward frames.

Close codes: 4401 not logged in (also when the login ends: chatapp/safety/socket_sessions.py),
4403 someone else's conversation, 4404 no such conversation.
"""

import json
import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import Http404

from chatapp.errors import ChatappError
from chatapp.policies.replies import process_policy, reply_policy
from chatapp.policies.safety import rate_limits
from chatapp.replies import orm_thread, registry
from chatapp.replies import service as replies
from chatapp.safety import ratelimits, socket_sessions
from chatapp.safety.access import NotYours, get_conversation_for_socket
from chatapp.streaming import broadcast
from chatapp.web.frames import Continue, FrameError, Regenerate, Stop, UserMessage, parse_frame

logger = logging.getLogger(__name__)

# Frames numbered by `seq` within a reply (a reply_state from the group restarts its text).
SEQUENCED_FRAMES = ("delta", "reply_state", "tool_call")


class ConversationConsumer(AsyncWebsocketConsumer):
    conversation_id: int
    group: str = ""
    user_group: str = ""

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' own dispatch first runs ``close_old_connections`` on the ORM thread for
        every event: every frame relayed to every socket waited its turn on that one thread
        behind the replies' database work (issue 18). The handlers here touch the database
        only through ``database_sync_to_async``, which closes stale connections around each
        call itself, so the events go straight to their handler."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(4401)
            return
        self.conversation_id = int(self.scope["url_route"]["kwargs"]["conversation_id"])
        try:
            await database_sync_to_async(get_conversation_for_socket)(user, self.conversation_id)
        except NotYours:
            await self._refuse(4403)
            return
        except Http404:
            await self._refuse(4404)
            return
        # Subscribe before reading the live state: nothing published after the read is missed,
        # and what the read already covers is dropped by seq (see docs/protocol.md).
        self.group = broadcast.group_name(self.conversation_id)
        self.last_seq: dict[int, int] = {}
        await self.channel_layer.group_add(self.group, self.channel_name)
        # Logging out, a new password or deactivation closes the socket (session_ended).
        self.user_group = socket_sessions.user_group(user.pk)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        await self.accept()
        process = process_policy()
        registry.ensure_background(process)
        frames = await replies.live_frames(self.conversation_id, process.redis_url)
        for frame in frames:
            self.last_seq[frame["message_id"]] = frame["seq"]
            await self._send(frame)
        await self._send({"type": "ready", "streaming": [f["message_id"] for f in frames]})

    async def _refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.user_group:
            await self.channel_layer.group_discard(self.user_group, self.channel_name)

    async def session_ended(self, event: dict[str, Any]) -> None:
        """The user's login ended (socket_sessions.end_sockets): all of it, or this session."""
        if event.get("session_key") in (None, self.scope["session"].session_key):
            await self.close(code=socket_sessions.SESSION_ENDED_CODE)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        orm_thread.arrived()  # this frame's ORM calls, and its reply's, queue by its arrival
        try:
            frame = parse_frame(text_data if text_data is not None else bytes_data)
        except FrameError as exc:
            await self._error(exc.code, exc.message)
            return
        try:
            if isinstance(frame, UserMessage | Regenerate | Continue):  # each starts a reply
                # Spending money: the login must still be good now, not just at the handshake.
                if not await database_sync_to_async(socket_sessions.session_is_current)(
                    self.scope["session"].session_key, self.scope["user"].pk,
                    settings.SESSION_ENGINE,
                ):
                    await self.close(code=socket_sessions.SESSION_ENDED_CODE)
                    return
                await ratelimits.spend(self.scope["user"].pk, "message", rate_limits())
            await self._handle(frame)
        except ChatappError as exc:  # refused in plain words (a reply, the rate, the budget)
            await self._error(exc.code, exc.message)
        except Exception:
            # A bug of ours must not take the socket (and the user's other replies) down.
            logger.exception("frame %r failed", frame)
            await self._error("internal", "Something went wrong on the server. Please retry.")

    async def _handle(self, frame: UserMessage | Stop | Regenerate | Continue) -> None:
        policy = reply_policy()  # the settings as they are now, for a reply this frame starts
        if isinstance(frame, UserMessage):
            # The attachments are checked against this conversation as the message is saved.
            await replies.start_reply(
                self.conversation_id, frame.text, frame.model, frame.attachments,
                policy=policy, thinking=frame.thinking, edit_of=frame.edit_of,
            )
        elif isinstance(frame, Stop):
            stopped = await registry.stop_reply(self.conversation_id, frame.message_id)
            if frame.message_id is not None and not stopped:
                await self._error("not_found", "That reply is not streaming.", frame.message_id)
        elif isinstance(frame, Regenerate):
            await replies.regenerate(
                self.conversation_id, frame.message_id, policy=policy, fallback=frame.fallback
            )
        elif isinstance(frame, Continue):
            await replies.continue_reply(self.conversation_id, frame.message_id, policy=policy)

    async def reply_frame(self, event: dict[str, Any]) -> None:
        """A frame published to the conversation's group (``broadcast.publish``)."""
        frame = event["frame"]
        message_id = frame.get("message_id")
        if frame["type"] == "message_started":
            self.last_seq.pop(message_id, None)  # a continued reply numbers its frames anew
        elif frame["type"] in SEQUENCED_FRAMES:
            if frame["seq"] <= self.last_seq.get(message_id, 0):
                return  # already covered by the reply_state this socket was sent
            self.last_seq[message_id] = frame["seq"]
        await self._send(frame)

    async def _error(self, code: str, message: str, message_id: int | None = None) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if message_id is not None:
            frame["message_id"] = message_id
        await self._send(frame)

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))
