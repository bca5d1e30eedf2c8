/* chatapp chat page — pinning and archiving (PATCH {pinned} / {archived}; docs/protocol.md):
 * the row moves at once and back if the server refuses; the open conversation's archived
 * note; the Archived chats dialog (the sidebar's footer). */

import { api } from "../lib/api.js";
import { h } from "../lib/dom.js";
import { announce, toast } from "./notices.js";
import { closeSidebar, confirmDelete, listChanged, renderSidebar, sortConversations } from "./sidebar.js";
import { conversationTitle, el, state, upcalls } from "./state.js";

const FILING_FIELDS = ["pinned", "archived", "pinned_at", "archived_at"];

let filingQueue = Promise.resolve(); // this tab's filing requests, one after another
const filingTokens = new Map(); // conversation id -> number of its latest filing change

function filingOf(conv) {
  const out = {};
  for (const name of FILING_FIELDS) if (name in conv) out[name] = conv[name];
  return out;
}

/** Keyboard focus on a row that left the sidebar (archived) goes to the row that took its
 * place, else New chat. (A row that only moved keeps it: renderSidebar.) */
function refocus(index) {
  if (el.convList.contains(document.activeElement)) return;
  const rows = el.convList.querySelectorAll(".conv-item .conv-link");
  (rows[Math.min(index, rows.length - 1)] || el.newChat).focus();
}

/** Pin, unpin, archive or unarchive `conv` (`flags`: {pinned} or {archived}). The row
 * moves at once and moves back if the server refuses. */
async function fileConversation(conv, flags, options) {
  const opts = options || {};
  const before = filingOf(conv);
  const hadFocus = el.convList.contains(document.activeElement);
  const rows = Array.from(el.convList.querySelectorAll(".conv-item"));
  const index = rows.findIndex((row) => row.dataset.id === String(conv.id));
  const local = Object.assign({ id: conv.id }, flags);
  if (flags.pinned) Object.assign(local, { pinned_at: new Date().toISOString(), archived: false });
  if (flags.archived) Object.assign(local, { pinned: false });
  applyFiling(Object.assign({}, conv, local));
  if (hadFocus) refocus(Math.max(index, 0));
  // Quick changes (pin, then unpin at once) reach the server in order, and only the
  // latest one's answer is drawn: an earlier answer would undo what is on screen.
  const token = (filingTokens.get(conv.id) || 0) + 1;
  filingTokens.set(conv.id, token);
  const request = filingQueue.then(() => api.updateConversation(conv.id, flags));
  filingQueue = request.catch(() => null);
  try {
    const updated = await request;
    if (filingTokens.get(conv.id) === token) applyFiling(updated);
  } catch (err) {
    if (filingTokens.get(conv.id) === token) applyFiling(Object.assign({}, conv, before));
    toast("Couldn't " + filingVerb(flags) + " the conversation. " + err.message, "error");
    return false;
  }
  const title = conversationTitle(conv);
  if (opts.quiet) return true;
  if (flags.archived) {
    toast("“" + title + "” archived. Find it under Archived chats.", null,
      { label: "Undo", run: () => fileConversation(conv, { archived: false }) });
  } else {
    announce("“" + title + "” " + filingVerb(flags) + (flags.pinned === undefined ? "d" : "ned") + ".");
  }
  return true;
}

function filingVerb(flags) {
  if (flags.pinned !== undefined) return flags.pinned ? "pin" : "unpin";
  return flags.archived ? "archive" : "unarchive";
}

/** A conversation's new filing, in the sidebar, the open conversation's note and the
 * Archived dialog if it is open. */
function applyFiling(conv) {
  listChanged();
  const known = state.conversations.find((c) => c.id === conv.id);
  // Not known here: only listed by the Archived dialog, so archived until now.
  const was = known ? !!known.archived : true;
  if (known) Object.assign(known, filingOf(conv));
  else if (conv.title !== undefined) state.conversations.push(Object.assign({}, conv));
  if (was !== !!conv.archived) state.archivedCount = Math.max(0, state.archivedCount + (conv.archived ? 1 : -1));
  if (state.current && state.current.id === conv.id) {
    Object.assign(state.current, filingOf(conv));
    showArchivedNote();
  }
  sortConversations();
  renderSidebar();
  if (el.archivedDialog.open) loadArchived();
}

function showArchivedNote() {
  el.archivedNote.hidden = !(state.current && state.current.archived);
}

// The Archived chats dialog (the sidebar's footer): open, unarchive or delete.
async function loadArchived() {
  const token = (loadArchived.token = (loadArchived.token || 0) + 1);
  el.archivedStatus.textContent = "Loading archived chats…";
  try {
    const data = await api.listArchived();
    if (token !== loadArchived.token) return;
    const rows = Array.isArray(data.conversations) ? data.conversations : [];
    el.archivedList.replaceChildren(...rows.map(archivedItem));
    el.archivedStatus.textContent = rows.length
      ? rows.length + (rows.length === 1 ? " archived chat" : " archived chats")
      : "No archived chats. Archive one from its row in the sidebar.";
  } catch (err) {
    if (token !== loadArchived.token) return;
    el.archivedStatus.textContent = "Couldn't load the archived chats. " + err.message;
  }
}

function archivedItem(conv) {
  const title = conversationTitle(conv);
  const link = h("a", { class: "archived-link", href: "/c/" + conv.id + "/" },
    h("span", { class: "conv-title", text: title }),
    h("span", { class: "archived-when", text: "Archived " + shortDate(conv.archived_at) }));
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    el.archivedDialog.close();
    closeSidebar();
    if (conv.id !== state.currentId) upcalls.navigate(conv.id, { push: true });
  });
  const restore = h("button", { type: "button", class: "btn btn-small", "aria-label": "Unarchive " + title }, "Unarchive");
  restore.addEventListener("click", async () => {
    if (await fileConversation(conv, { archived: false }, { quiet: true })) {
      announce("“" + title + "” is back in the sidebar.");
      el.archivedStatus.focus();
    }
  });
  const remove = h("button", { type: "button", class: "btn btn-small btn-quiet", "aria-label": "Delete " + title }, "Delete");
  remove.addEventListener("click", () => confirmDelete(conv, () => {
    loadArchived();
    el.archivedStatus.focus();
  }));
  return h("li", { class: "archived-item", "data-id": conv.id }, link,
    h("div", { class: "archived-actions" }, restore, remove));
}

function shortDate(iso) {
  const when = new Date(iso || 0);
  return when.toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric" });
}

function openArchived() {
  el.archivedList.replaceChildren();
  el.archivedDialog.showModal();
  loadArchived();
}

/** Writing in an archived conversation brings it back to the sidebar: it is in use again.
 * (The server would take the message either way; this keeps the sidebar honest.) */
async function unarchiveToContinue() {
  const conv = state.conversations.find((c) => c.id === state.currentId) || state.current;
  if (await fileConversation(conv, { archived: false }, { quiet: true })) {
    toast("Unarchived: this conversation is back in the sidebar.");
  }
}

function wireFiling() {
  el.archivedBtn.addEventListener("click", openArchived);
  el.unarchiveCurrent.addEventListener("click", async () => {
    const conv = state.conversations.find((c) => c.id === state.currentId) || state.current;
    // The note (and its button) goes away: the keyboard carries on in the message box.
    if (conv && (await fileConversation(conv, { archived: false }))) el.input.focus();
  });
}

export {
  filingOf, fileConversation, applyFiling, showArchivedNote, unarchiveToContinue, wireFiling,
};
