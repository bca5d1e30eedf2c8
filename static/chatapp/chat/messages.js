/* chatapp chat page — the message views: made from a message, placed on screen,
 * repainted once a frame (markDirty) or at once (paintNow), removed. */

import * as agentic from "../agentic.js";
import { h } from "../lib/dom.js";
import { cutShortWords, paint } from "./paint.js";
import { scrollToBottom, updateJumpButton } from "./scrolling.js";
import { el, icon, state } from "./state.js";

function newView(msg) {
  const view = {
    id: msg.id === undefined ? null : msg.id,
    role: msg.role || "assistant",
    status: msg.status || "complete",
    text: msg.text || "",
    seq: Number(msg.seq) || 0,
    model: msg.model || null,
    usage: msg.usage || null,
    cost_usd: msg.cost_usd === undefined ? null : msg.cost_usd,
    error: msg.error || null,
    flags: Array.isArray(msg.flags) ? msg.flags : [],
    content: Array.isArray(msg.content) ? msg.content : [], // blocks: attachments, citations
    cache_saved_usd: msg.cache_saved_usd === undefined ? null : msg.cache_saved_usd,
    versions: msg.versions || null, // {index, count, previous_id, next_id}: other versions
    reply_to: msg.reply_to === undefined ? null : msg.reply_to, // a reply's question
    stop_reason: msg.stop_reason || "",
    options: msg.options || {}, // stop_details of a refusal; `continues` of a continuation
    notice: "",
    retrying: false,
    renderedText: null,
    node: null,
  };
  agentic.initView(view, msg);
  buildNode(view);
  return view;
}

function buildNode(view) {
  if (view.role === "user") {
    const textNode = h("div", { class: "msg-text" });
    textNode.textContent = view.text;
    const files = h("div", { class: "msg-files", hidden: true });
    const versions = h("div", { class: "msg-versions", hidden: true });
    // An icon, not a word: the message's text content stays exactly what was said.
    const edit = h("button", { type: "button", class: "icon-btn msg-edit", "data-action": "edit", "aria-label": "Edit this message", title: "Edit" }, icon("pencil"));
    const refused = h("span", { class: "msg-refused-mark", hidden: true }); // text when shown
    const tools = h("div", { class: "msg-tools" }, refused, versions, edit);
    view.node = h("article", { class: "msg msg-user", "aria-label": "You said" }, files, h("div", { class: "msg-bubble" }, textNode), tools);
    view.parts = { text: textNode, files, versions, edit, refused };
  } else {
    const md = h("div", { class: "md" });
    const thinking = h("div", { class: "msg-thinking", "aria-hidden": "true" }, h("span"), h("span"), h("span"));
    const notice = h("p", { class: "msg-notice", role: "status", hidden: true });
    const status = h("p", { class: "msg-status", hidden: true });
    const error = h("div", { class: "msg-error", hidden: true });
    const footer = h("div", { class: "msg-footer", hidden: true });
    const cache = h("p", { class: "msg-cache", hidden: true });
    const flags = h("p", { class: "msg-flags", hidden: true });
    const versions = h("div", { class: "msg-versions", hidden: true });
    const extra = agentic.buildParts(); // thinking panel and tool cards above, notes below
    const content = h("div", { class: "msg-content" }, extra.trace, extra.thought, extra.tools, md, thinking,
      notice, status, extra.actions, extra.notes, error, flags, footer, versions, cache);
    view.node = h("article", { class: "msg msg-assistant", "aria-label": "Claude replied" },
      h("div", { class: "msg-avatar", "aria-hidden": "true" }, "✳"), content);
    view.parts = { md, thinking, notice, status, error, flags, footer, cache, extra, versions };
  }
  if (view.id !== null) view.node.dataset.id = String(view.id);
  view.node.dataset.role = view.role;
}

function markDirty(view) {
  state.dirty.add(view);
  if (state.renderQueued) return;
  state.renderQueued = true;
  window.requestAnimationFrame(flushRender);
}

function flushRender() {
  state.renderQueued = false;
  const atBottom = state.stickToBottom;
  for (const view of state.dirty) paint(view);
  state.dirty.clear();
  if (atBottom) scrollToBottom();
  updateJumpButton();
}

/** Replies that could go on lose their Continue once something follows them. */
function refreshEndings() {
  for (const view of state.messages.values()) {
    if (view.role === "assistant" && (cutShortWords(view) || agentic.canContinue(view))) markDirty(view);
  }
}

function paintNow(view) {
  state.dirty.delete(view);
  const atBottom = state.stickToBottom;
  paint(view);
  if (atBottom) scrollToBottom();
  updateJumpButton();
}

function updateEmptyState() {
  const empty = state.snapshotApplied && state.messages.size === 0 && state.pending.length === 0;
  el.emptyState.hidden = !empty || state.fatal;
}

function clearMessages() {
  state.messages.clear();
  state.pending = [];
  state.dirty.clear();
  state.streamingId = null;
  state.awaitingReply = false;
  el.messages.replaceChildren();
}

function addView(view, { before } = {}) {
  if (view.id !== null) state.messages.set(view.id, view);
  if (before) el.messages.insertBefore(view.node, before);
  else if (state.pending.length && view.role !== "user" && state.pending[0].node.parentNode === el.messages) {
    // keep optimistic bubbles last
    el.messages.insertBefore(view.node, state.pending[0].node);
  } else el.messages.append(view.node);
  paint(view);
  refreshEndings();
  updateEmptyState();
}

function removeView(view) {
  if (view.id !== null) state.messages.delete(view.id);
  state.dirty.delete(view);
  view.node.remove();
}

function findViewByNode(node) {
  const id = node.dataset.id;
  if (id === undefined) return null;
  return state.messages.get(Number(id)) || null;
}

function hasStreamingView() {
  for (const view of state.messages.values()) if (view.status === "streaming") return true;
  return false;
}

export {
  newView, markDirty, paintNow, updateEmptyState, clearMessages, addView, removeView,
  findViewByNode, hasStreamingView, refreshEndings,
};
