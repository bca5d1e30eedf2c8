/* chatapp chat page — a reply streaming in: message_started, delta and tool_call (numbered
 * by seq: a gap asks for the reply's state again), reply_state, message_completed. */

import * as agentic from "../agentic.js";
import * as render from "../render.js";
import { updateComposer } from "./controls.js";
import { countMessageCost, refreshConversationCost } from "./cost.js";
import { addView, findViewByNode, markDirty, newView, paintNow } from "./messages.js";
import { announce } from "./notices.js";
import { cutShortWords, isRefusal, paint } from "./paint.js";
import { touchConversation } from "./sidebar.js";
import { resyncSnapshot } from "./snapshot.js";
import { el, state } from "./state.js";

function onMessageStarted(frame) {
  const id = frame.message_id;
  let view = state.messages.get(id);
  if (!view) {
    view = newView({ id, role: "assistant", status: "streaming", text: "", seq: 0, model: frame.model,
      reply_to: frame.reply_to });
    const question = state.messages.get(frame.reply_to);
    let placed = false;
    if (question && question.node.parentNode === el.messages) {
      const next = question.node.nextElementSibling;
      const old = next && next.dataset.role === "assistant" ? findViewByNode(next) : null;
      if (old && old.id !== id) {
        // Retry (regenerate): the new reply takes the old one's place.
        el.messages.replaceChild(view.node, old.node);
        state.messages.delete(old.id);
        state.dirty.delete(old);
        state.messages.set(id, view);
        paint(view);
        placed = true;
      } else {
        addView(view, { before: next || null });
        placed = true;
      }
    }
    if (!placed) addView(view);
  } else {
    view.status = "streaming";
    view.model = frame.model || view.model;
    view.seq = 0; // a continued reply numbers its frames anew after its text so far
    view.error = null;
    view.retrying = false;
    markDirty(view);
  }
  state.streamingId = id;
  state.awaitingReply = false;
  updateComposer();
  announce("Claude is replying…");
}

function onDelta(frame) {
  const view = state.messages.get(frame.message_id);
  const seq = Number(frame.seq);
  if (!view) {
    // A reply we never saw start: reconnect, the server then sends reply_state.
    requestResync();
    return;
  }
  if (view.status !== "streaming") return;
  if (!(seq > view.seq)) return; // already applied
  if (seq !== view.seq + 1) {
    requestResync(); // gap: get the text again from reply_state
    return;
  }
  view.text += typeof frame.text === "string" ? frame.text : "";
  agentic.onDelta(view, frame);
  view.seq = seq;
  view.notice = "";
  if (state.streamingId !== view.id) {
    state.streamingId = view.id;
    updateComposer();
  }
  markDirty(view);
}

/** A tool card started or ended: numbered like deltas, so a gap asks for reply_state. */
function onToolCall(frame) {
  const view = state.messages.get(frame.message_id);
  const seq = Number(frame.seq);
  if (!view || view.status !== "streaming") return;
  if (!(seq > view.seq)) return;
  if (seq !== view.seq + 1) {
    requestResync();
    return;
  }
  agentic.onToolCall(view, frame);
  view.seq = seq;
  markDirty(view);
}

function onReplyState(frame) {
  const id = frame.message_id;
  let view = state.messages.get(id);
  if (!view) {
    view = newView({ id, role: "assistant", status: "streaming", text: "", seq: 0, model: frame.model });
    addView(view);
  }
  if (view.status !== "streaming") return; // it already ended; this state is old
  view.text = typeof frame.text === "string" ? frame.text : "";
  view.seq = Number(frame.seq) || 0;
  view.model = frame.model || view.model;
  agentic.onReplyState(view, frame);
  state.streamingId = id;
  state.awaitingReply = false;
  updateComposer();
  markDirty(view);
}

function onMessageCompleted(frame) {
  const id = frame.message_id;
  const view = state.messages.get(id);
  if (!view) {
    resyncSnapshot(); // a reply we have no bubble for: fetch the conversation again
    return;
  }
  view.status = frame.status || "complete";
  view.usage = frame.usage || view.usage;
  view.cost_usd = frame.cost_usd === undefined ? null : frame.cost_usd;
  view.model = frame.model || view.model;
  view.error = frame.error || (view.status === "error" ? view.error : null);
  view.stop_reason = frame.stop_reason || "";
  if (frame.options) view.options = frame.options;
  view.flags = Array.isArray(frame.flags) ? frame.flags : [];
  if (Array.isArray(frame.content)) view.content = frame.content; // citations come here
  view.cache_saved_usd = frame.cache_saved_usd === undefined ? null : frame.cache_saved_usd;
  agentic.onCompleted(view, frame);
  // Redacted or withheld by the content checks: what was kept replaces what streamed.
  if (typeof frame.text === "string") view.text = frame.text;
  view.notice = "";
  view.retrying = false;
  if (state.streamingId === id) state.streamingId = null;
  state.awaitingReply = false;
  paintNow(view);
  updateComposer();
  if (state.current) countMessageCost(view, frame.cost_usd);
  refreshConversationCost();
  touchConversation(state.currentId);
  document.dispatchEvent(new CustomEvent("chatapp:reply-finished", { detail: { status: view.status } }));
  if (isRefusal(view)) {
    announce("Claude declined to answer this question.");
  } else if (view.status === "complete") {
    const preview = view.text.length > 300 ? view.text.slice(0, 300) + "…" : view.text;
    announce("Claude replied: " + preview + (cutShortWords(view) ? " (" + cutShortWords(view) + ")" : ""));
  } else if (view.status === "cancelled") {
    announce("Reply stopped.");
  } else {
    announce("The reply failed. " + render.describeError(view.error, view.status).headline);
  }
}

let lastResyncAt = 0;

/** Reconnect so the server resends reply_state (at most once a second). */
function requestResync() {
  const now = Date.now();
  if (!state.socket || now - lastResyncAt < 1000) return;
  lastResyncAt = now;
  state.socket.resync();
}

export { onMessageStarted, onDelta, onToolCall, onReplyState, onMessageCompleted, requestResync };
