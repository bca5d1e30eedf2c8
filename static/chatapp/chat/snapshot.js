/* chatapp chat page — a conversation as GET /api/conversations/<id>/ answers it: drawn
 * when opened, merged into the views on screen when read again (a reconnect, a new branch). */

import * as agentic from "../agentic.js";
import { api } from "../lib/api.js";
import { h } from "../lib/dom.js";
import * as money from "../lib/money.js";
import { updateComposer, setModel } from "./controls.js";
import { rebaseConversationCost } from "./cost.js";
import { filingOf, showArchivedNote } from "./filing.js";
import { newView, removeView, updateEmptyState } from "./messages.js";
import { loginHref, setTitle, showBanner, toast } from "./notices.js";
import { paint } from "./paint.js";
import { showProject } from "./projects.js";
import { scrollToBottom } from "./scrolling.js";
import { upsertConversation } from "./sidebar.js";
import { conversationTitle, el, state, upcalls } from "./state.js";

/** Hide replies that a later reply to the same question superseded. */
function visibleMessages(list) {
  const out = [];
  for (const msg of list) {
    if (msg.superseded) continue;
    const prev = out[out.length - 1];
    if (msg.role === "assistant" && prev && prev.role === "assistant") out.pop();
    out.push(msg);
  }
  return out;
}

function applySnapshot(conv, options) {
  state.current = Object.assign({}, conv);
  delete state.current.messages;
  setTitle(conversationTitle(conv));
  setModel(conv.model);
  state.costPico = money.toPico(conv.cost_usd);
  upsertConversation(Object.assign({ id: conv.id, title: conv.title, model: conv.model,
    created_at: conv.created_at, updated_at: conv.updated_at }, filingOf(conv)));
  showArchivedNote();
  showProject();

  const list = visibleMessages(Array.isArray(conv.messages) ? conv.messages : []);
  const keep = new Set();
  const ordered = [];
  const known = new Map(); // what each reply on screen counted before this snapshot
  for (const msg of list) {
    let view = state.messages.get(msg.id);
    if (!view) view = newView(msg);
    else {
      known.set(msg.id, view.counted);
      mergeSnapshotMessage(view, msg);
    }
    keep.add(view);
    ordered.push(view);
  }
  rebaseConversationCost(conv, known);
  for (const view of Array.from(state.messages.values())) {
    if (!keep.has(view)) removeView(view);
  }
  state.messages.clear();
  for (const view of ordered) {
    if (view.id !== null) state.messages.set(view.id, view);
    el.messages.append(view.node);
    paint(view);
  }
  for (const view of state.pending) el.messages.append(view.node);

  const streaming = ordered.filter((v) => v.role === "assistant" && v.status === "streaming");
  state.streamingId = streaming.length ? streaming[streaming.length - 1].id : null;
  if (state.streamingId !== null) state.awaitingReply = false;
  state.snapshotApplied = true;
  el.loading.hidden = true;
  updateEmptyState();
  updateComposer();
  if (!(options && options.keepScroll)) scrollToBottom();
  if (state.jumpTo !== null) jumpToMessage(state.jumpTo);
}

/** Scroll a message into view and highlight it (search results land here). */
function jumpToMessage(id) {
  state.jumpTo = null;
  const view = state.messages.get(id);
  if (!view) {
    toast("That message is in another version of this conversation: use ‹ › to find it.");
    return;
  }
  state.stickToBottom = false;
  view.node.scrollIntoView({ block: "center" });
  view.node.classList.add("is-found");
  view.node.setAttribute("tabindex", "-1");
  view.node.focus({ preventScroll: true });
  window.setTimeout(() => view.node.classList.remove("is-found"), 4000);
}

function mergeSnapshotMessage(view, msg) {
  view.versions = msg.versions || null;
  if (view.status !== "streaming" && msg.status === "streaming") return; // we know it ended
  if (view.status === "streaming" && msg.status === "streaming") {
    const seq = Number(msg.seq) || 0;
    if (seq > view.seq) {
      view.text = msg.text || "";
      view.seq = seq;
    }
    return;
  }
  view.status = msg.status;
  view.text = msg.text || "";
  view.seq = Number(msg.seq) || 0;
  view.model = msg.model || view.model;
  view.usage = msg.usage || null;
  view.cost_usd = msg.cost_usd === undefined ? null : msg.cost_usd;
  view.error = msg.error || null;
  view.flags = Array.isArray(msg.flags) ? msg.flags : [];
  view.content = Array.isArray(msg.content) ? msg.content : view.content;
  view.cache_saved_usd = msg.cache_saved_usd === undefined ? null : msg.cache_saved_usd;
  view.stop_reason = msg.stop_reason || "";
  view.options = msg.options || {};
  agentic.initView(view, msg);
  view.retrying = false;
}

async function resyncSnapshot() {
  if (state.resyncInFlight || state.currentId === null) return;
  state.resyncInFlight = true;
  const token = state.loadToken;
  try {
    const conv = await api.getConversation(state.currentId);
    if (token === state.loadToken) applySnapshot(conv);
  } catch (err) {
    if (token !== state.loadToken) return;
    handleConversationLoadError(err);
  } finally {
    state.resyncInFlight = false;
  }
}

function handleConversationLoadError(err) {
  el.loading.hidden = true;
  if (err.status === 404) {
    state.fatal = true;
    if (state.socket) state.socket.close();
    setTitle("Not found");
    showBanner("This conversation was not found. It may have been deleted.", { href: "/", text: "Start a new chat" });
  } else if (err.status === 401) {
    state.fatal = true;
    if (state.socket) state.socket.close();
    showBanner("You have been logged out.", { href: loginHref(), text: "Sign in again" });
  } else {
    const retry = h("button", { type: "button", class: "link-btn" }, "Try again");
    retry.addEventListener("click", () => upcalls.navigate(state.currentId, { push: false }));
    el.banner.replaceChildren(h("span", { text: "Couldn't load this conversation. " + err.message + " " }), retry);
    el.banner.hidden = false;
  }
  updateEmptyState();
  updateComposer();
}

export { applySnapshot, jumpToMessage, resyncSnapshot, handleConversationLoadError };
