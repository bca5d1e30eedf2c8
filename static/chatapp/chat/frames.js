/* chatapp chat page — the server's frames (docs/protocol.md, "The WebSocket"): the
 * dispatch, and those that are not a reply streaming in (replies.js has those). */

import { attachments } from "../attachments.js";
import * as render from "../render.js";
import { autoGrow, updateComposer } from "./controls.js";
import { refreshConversationCost } from "./cost.js";
import { applyFiling } from "./filing.js";
import { addView, markDirty, newView, paintNow, removeView, updateEmptyState } from "./messages.js";
import { setTitle, toast } from "./notices.js";
import { onDelta, onMessageCompleted, onMessageStarted, onReplyState, onToolCall } from "./replies.js";
import { renderSidebar, touchConversation } from "./sidebar.js";
import { resyncSnapshot } from "./snapshot.js";
import { conversationTitle, el, state } from "./state.js";

function handleFrame(frame) {
  switch (frame.type) {
    case "message_created":
      return onMessageCreated(frame);
    case "message_started":
      return onMessageStarted(frame);
    case "delta":
      return onDelta(frame);
    case "reply_state":
      return onReplyState(frame);
    case "tool_call":
      return onToolCall(frame);
    case "message_completed":
      return onMessageCompleted(frame);
    case "conversation_updated":
      return onConversationUpdated(frame);
    case "notice":
      return onNotice(frame);
    case "error":
      return onErrorFrame(frame);
    case "ready":
      return onReady(frame);
    case "branch_changed":
      return resyncSnapshot(); // an edit, a regenerated reply or another version shown
    default:
      return undefined; // frames this page does not know are ignored
  }
}

function onMessageCreated(frame) {
  const msg = frame.message;
  if (!msg || msg.id === undefined) return;
  if (state.messages.has(msg.id)) return;
  if (msg.role !== "user") {
    addView(newView(msg));
    return;
  }
  // Reconcile with an optimistic bubble of ours: same text first, else the oldest.
  const text = (msg.text || "").trim();
  let index = state.pending.findIndex((v) => v.text.trim() === text);
  if (index < 0 && state.pending.length) index = 0;
  if (index >= 0) {
    const view = state.pending.splice(index, 1)[0];
    view.id = msg.id;
    view.text = msg.text || view.text;
    view.content = Array.isArray(msg.content) ? msg.content : view.content;
    view.failed = false;
    attachments.sent();
    view.node.dataset.id = String(msg.id);
    state.messages.set(msg.id, view);
    // it belongs before any remaining optimistic bubbles
    if (state.pending.length) el.messages.insertBefore(view.node, state.pending[0].node);
    paintNow(view);
  } else {
    addView(newView(msg));
  }
  touchConversation(state.currentId);
  updateEmptyState();
}

function onConversationUpdated(frame) {
  // Pinned or archived in another tab (or this one): every tab showing it follows.
  if (typeof frame.pinned === "boolean" || typeof frame.archived === "boolean") {
    const known = state.conversations.find((c) => c.id === state.currentId) || state.current;
    if (known) {
      const flags = { id: state.currentId };
      for (const name of ["pinned", "archived"]) if (typeof frame[name] === "boolean") flags[name] = frame[name];
      if (flags.pinned && !known.pinned) flags.pinned_at = new Date().toISOString();
      applyFiling(Object.assign({}, known, flags));
    }
  }
  if (typeof frame.title !== "string") return;
  if (state.current) state.current.title = frame.title;
  refreshConversationCost(); // the title's call is billed to the conversation
  setTitle(conversationTitle({ title: frame.title }));
  const conv = state.conversations.find((c) => c.id === state.currentId);
  if (conv) {
    conv.title = frame.title;
    renderSidebar();
  }
}

function onNotice(frame) {
  const view = state.messages.get(frame.message_id);
  if (!view || typeof frame.text !== "string") {
    if (typeof frame.text === "string") toast(frame.text);
    return;
  }
  view.notice = frame.text;
  markDirty(view);
  window.clearTimeout(view.noticeTimer);
  view.noticeTimer = window.setTimeout(() => {
    if (view.notice === frame.text) {
      view.notice = "";
      markDirty(view);
    }
  }, 20000);
}

/**
 * `ready` (sent after the reply_state frames of a new connection; not in protocol.md yet):
 * `streaming` lists the replies still running. A bubble we show as streaming that is not
 * listed ended while we were not connected: fetch the conversation for its final state.
 */
function onReady(frame) {
  if (!Array.isArray(frame.streaming)) return;
  const live = new Set(frame.streaming);
  for (const view of state.messages.values()) {
    if (view.status === "streaming" && !live.has(view.id)) {
      resyncSnapshot();
      return;
    }
  }
}

// Error codes that describe how a reply failed (others are about a rejected frame).
const REPLY_ERROR_CODES = new Set(["upstream_unreachable", "upstream_error", "rate_limited",
  "overloaded", "invalid_request", "authentication", "refusal", "context_too_long",
  "budget_exceeded"]);

function onErrorFrame(frame) {
  const words = render.describeError({ code: frame.code, message: frame.message });
  if (frame.message_id !== undefined && frame.message_id !== null) {
    const view = state.messages.get(frame.message_id);
    if (view && view.role === "assistant" && !REPLY_ERROR_CODES.has(frame.code) && view.status !== "streaming") {
      // e.g. "not_found" for a Stop that crossed the reply's end: nothing to show.
      if (view.retrying) {
        view.retrying = false;
        state.awaitingReply = false;
        paintNow(view);
        updateComposer();
        toast(words.headline, "error");
      }
      return;
    }
    if (view && view.role === "assistant" && REPLY_ERROR_CODES.has(frame.code)) {
      view.error = { code: frame.code, message: frame.message };
      view.retrying = false;
      if (view.status === "streaming") {
        view.status = "error";
        if (state.streamingId === view.id) state.streamingId = null;
      }
      state.awaitingReply = false;
      paintNow(view);
      updateComposer();
      return;
    }
  }
  // Not about a reply: a rejected frame. If we were waiting on a message we sent, undo it.
  if (state.awaitingReply) {
    state.awaitingReply = false;
    const view = state.pending.pop();
    if (view) {
      removeView(view);
      if (!el.input.value.trim()) {
        el.input.value = view.text;
        autoGrow();
      }
      attachments.unsent(); // its attachments go back to the composer too
    }
    for (const v of state.messages.values()) {
      if (v.retrying) {
        v.retrying = false;
        markDirty(v);
      }
    }
    updateEmptyState();
    updateComposer();
  }
  // Our own rate limit (not Claude's) says in its message how long to wait.
  if (frame.code === "rate_limited" && frame.message) toast(frame.message, "error");
  else toast(words.detail && frame.code !== "busy" ? words.headline + " " + words.detail : words.headline, "error");
}

export { handleFrame };
