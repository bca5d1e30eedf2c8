/* chatapp — the chat page: sidebar, conversation view, composer and live replies.
 *
 * An ES module. render.js needs the vendored marked, DOMPurify and highlight.js, which the
 * template loads first. What the page's other modules may use is exported at the end.
 */

import * as agentic from "../agentic.js";
import { attachments } from "../attachments.js";
import { api } from "../lib/api.js";
import { h, icon as lineIcon } from "../lib/dom.js";
import { readJson } from "../lib/json.js";
import * as money from "../lib/money.js";
import { ConversationSocket } from "../lib/socket.js";
import * as render from "../render.js";

// --- page data (rendered by Django's json_script) ------------------------------------

const MODELS = readJson("models-data", []) || [];
const DEFAULT_MODEL = readJson("default-model", null) || (MODELS[0] && MODELS[0].id) || "";
const INITIAL_ID = readJson("conversation-id", null);

// --- elements ------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);
const el = {
  body: document.body,
  sidebar: $("sidebar"),
  sidebarToggle: $("sidebar-toggle"),
  sidebarBackdrop: $("sidebar-backdrop"),
  newChat: $("new-chat"),
  convList: $("conv-list"),
  convStatus: $("conv-status"),
  title: $("conv-title"),
  convCost: $("conv-cost"),
  connStatus: $("conn-status"),
  banner: $("banner"),
  scroller: $("scroller"),
  emptyState: $("empty-state"),
  loading: $("loading-state"),
  messages: $("messages"),
  jump: $("jump-latest"),
  composer: $("composer"),
  input: $("composer-input"),
  modelSelect: $("model-select"),
  thinkingSelect: $("thinking-select"),
  send: $("send-btn"),
  sendLabel: $("send-label"),
  toasts: $("toasts"),
  announcer: $("announcer"),
  dialog: $("confirm-delete"),
  dialogText: $("confirm-delete-text"),
  archivedNote: $("archived-note"),
  unarchiveCurrent: $("unarchive-current"),
  archivedBtn: $("archived-btn"),
  archivedDialog: $("archived-dialog"),
  archivedList: $("archived-list"),
  archivedStatus: $("archived-status"),
};

// --- state ---------------------------------------------------------------------------

const state = {
  conversations: [], // sidebar rows: {id, title, model, pinned, archived, pinned_at, created_at, updated_at}
  conversationsLoaded: false,
  archivedCount: 0, // the user's archived conversations, when the list was last read
  currentId: null,
  current: null, // the open conversation (without messages)
  socket: null,
  loadToken: 0, // bumped on every navigation: late answers for old views are dropped
  snapshotApplied: false,
  frameBuffer: [], // frames that arrived before the first snapshot was drawn
  messages: new Map(), // id -> message view (see newView)
  pending: [], // optimistic user messages not yet confirmed by message_created
  streamingId: null, // the reply streaming in this conversation
  awaitingReply: false, // we sent something and wait for message_started
  stickToBottom: true,
  fatal: false,
  renderQueued: false,
  dirty: new Set(),
  resyncInFlight: false,
  jumpTo: null, // a message to scroll to once the conversation is drawn (search)
  renaming: false, // a row's title is being edited: the list is redrawn when that ends
};

// --- small helpers -------------------------------------------------------------------

const ICONS = {
  pencil: "M4 20h4L18.5 9.5a2.12 2.12 0 0 0-3-3L5 17v3z M13.5 8.5l2 2",
  trash: "M4 7h16 M10 11v6 M14 11v6 M6 7l1 13h10l1-13 M9 7V4h6v3",
  send: "M12 19V5 M5 12l7-7 7 7",
  stop: "M7 7h10v10H7z",
  retry: "M4 4v6h6 M20 12a8 8 0 0 1-14.3 4.9 M4 10a8 8 0 0 1 14.3-4.9",
  copy: "M9 9h10v10H9z M5 15V5h10",
  prev: "M15 6l-6 6 6 6",
  next: "M9 6l6 6-6 6",
  pin: "M9 4h6 M10 4v6l-3 4h10l-3-4V4 M12 14v6",
  unpin: "M9 4h6 M10 4v6l-3 4h10l-3-4V4 M12 14v6 M4 4l16 16",
  archive: "M4 5h16v4H4z M6 9v10h12V9 M10 13h4",
  unarchive: "M4 5h16v4H4z M6 9v10h12V9 M12 17v-5 M9.5 14.5L12 12l2.5 2.5",
};

const icon = (name) => lineIcon(ICONS[name]);

function conversationTitle(conv) {
  const title = conv && typeof conv.title === "string" ? conv.title.trim() : "";
  return title || "New chat";
}

function parsePath(pathname) {
  const match = /^\/c\/(\d+)\/?$/.exec(pathname);
  return match ? Number(match[1]) : null;
}

function announce(text) {
  // Clear first so the same words are announced again.
  el.announcer.textContent = "";
  window.setTimeout(() => {
    el.announcer.textContent = text;
  }, 50);
}

/** A passing message; `action` ({label, run}) adds a button, e.g. Undo. */
function toast(text, kind, action) {
  const node = h("div", { class: "toast" + (kind ? " toast-" + kind : ""), role: kind === "error" ? "alert" : "status" });
  node.append(h("span", { class: "toast-text", text }));
  if (action) {
    const button = h("button", { type: "button", class: "link-btn toast-action" }, action.label);
    button.addEventListener("click", () => {
      node.remove();
      action.run();
    });
    node.append(button);
  }
  const close = h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  close.addEventListener("click", () => node.remove());
  node.append(close);
  el.toasts.append(node);
  window.setTimeout(() => node.remove(), kind === "error" ? 10000 : 5000);
}

function showBanner(text, link) {
  el.banner.replaceChildren(h("span", { text }));
  if (link) {
    el.banner.append(" ", h("a", { href: link.href, text: link.text }));
  }
  el.banner.hidden = false;
}

function hideBanner() {
  el.banner.hidden = true;
  el.banner.replaceChildren();
}

function loginHref() {
  return "/accounts/login/?next=" + encodeURIComponent(window.location.pathname);
}

function setTitle(text) {
  el.title.textContent = text;
  // A background tab's "● Reply ready — " (comforts.js) outlives a title that comes later.
  const mark = /^● Reply (ready|ended) — /.exec(document.title);
  document.title = (mark && document.hidden ? mark[0] : "") + text + " — chatapp";
}

// --- sidebar -------------------------------------------------------------------------

let listReadAt = 0; // when the list was last read again (refreshConversations)
let listEpoch = 0; // bumped by every change this tab makes to the list

function sortConversations() {
  state.conversations.sort((a, b) => {
    const ta = Date.parse(a.updated_at || a.created_at || 0) || 0;
    const tb = Date.parse(b.updated_at || b.created_at || 0) || 0;
    return tb - ta || b.id - a.id;
  });
}

// The sidebar's groups, newest first: how long ago a conversation was last used, in days
// by the reader's calendar (0: today).
const DATE_GROUPS = [
  { label: "Today", upTo: 0 },
  { label: "Yesterday", upTo: 1 },
  { label: "Previous 7 days", upTo: 7 },
  { label: "Older", upTo: Infinity },
];

function dateGroup(conv, today) {
  const when = new Date(conv.updated_at || conv.created_at || 0);
  const day = new Date(when.getFullYear(), when.getMonth(), when.getDate());
  const daysAgo = Math.round((today - day) / 86400000);
  return DATE_GROUPS.find((group) => daysAgo <= group.upTo) || DATE_GROUPS[DATE_GROUPS.length - 1];
}

// Above the date groups: pinned conversations, the most recently pinned first, so a pinned
// conversation keeps its place while it is used (chatapp/filing.py says why).
const PINNED_GROUP = { label: "Pinned" };

function pinnedOrder(a, b) {
  return (Date.parse(b.pinned_at || 0) || 0) - (Date.parse(a.pinned_at || 0) || 0) || b.id - a.id;
}

function renderSidebar() {
  // A redraw while a title is typed (the automatic title arriving, a reply finishing) would
  // take the box away and save half a title on its blur; the rename redraws when it ends.
  if (!state.conversationsLoaded || state.renaming) return;
  const now = new Date();
  const today = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const shown = state.conversations.filter((conv) => !conv.archived);
  const pinned = shown.filter((conv) => conv.pinned).sort(pinnedOrder);
  const focus = focusedRowControl();
  const items = [];
  let group = null;
  for (const conv of [...pinned, ...shown.filter((c) => !c.pinned)]) {
    const next = conv.pinned ? PINNED_GROUP : dateGroup(conv, today);
    if (next !== group) {
      group = next;
      items.push(h("li", { class: "conv-group" + (next === PINNED_GROUP ? " conv-group-pinned" : "") },
        h("h3", { class: "sidebar-heading conv-group-heading", text: group.label })));
    }
    items.push(sidebarItem(conv));
  }
  el.convList.replaceChildren(...items);
  if (focus) {
    // Redrawn under the keyboard (a row pinned, a reply finished): focus stays on the same
    // control of the same row, wherever the row now stands.
    const again = el.convList.querySelector('.conv-item[data-id="' + focus.id + '"] .' + focus.control);
    if (again) again.focus();
  }
  if (shown.length === 0) {
    el.convStatus.textContent = state.archivedCount
      ? "No conversations here: the archived ones are under Archived chats."
      : "No conversations yet.";
    el.convStatus.hidden = false;
  } else {
    el.convStatus.textContent = "";
    el.convStatus.hidden = true;
  }
}

const ROW_CONTROLS = ["conv-link", "conv-pin", "conv-rename", "conv-archive", "conv-delete"];

function focusedRowControl() {
  const focused = document.activeElement;
  if (!focused || !el.convList.contains(focused)) return null;
  const item = focused.closest(".conv-item");
  const control = ROW_CONTROLS.find((name) => focused.classList.contains(name));
  return item && control ? { id: item.dataset.id, control } : null;
}

function sidebarItem(conv) {
  const title = conversationTitle(conv);
  const current = conv.id === state.currentId;
  const link = h("a", {
    class: "conv-link",
    href: "/c/" + conv.id + "/",
    "aria-current": current ? "page" : null,
    title,
  }, h("span", { class: "conv-title", text: title }));
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    closeSidebar();
    if (conv.id !== state.currentId) navigate(conv.id, { push: true });
  });

  const pinWord = conv.pinned ? "Unpin" : "Pin";
  const pin = h("button", { type: "button", class: "icon-btn conv-pin", "aria-label": pinWord + " " + title, title: pinWord }, icon(conv.pinned ? "unpin" : "pin"));
  pin.addEventListener("click", () => fileConversation(conv, { pinned: !conv.pinned }));
  const rename = h("button", { type: "button", class: "icon-btn conv-rename", "aria-label": "Rename " + title, title: "Rename" }, icon("pencil"));
  rename.addEventListener("click", () => startRename(conv, item));
  const archive = h("button", { type: "button", class: "icon-btn conv-archive", "aria-label": "Archive " + title, title: "Archive" }, icon("archive"));
  archive.addEventListener("click", () => fileConversation(conv, { archived: true }));
  const remove = h("button", { type: "button", class: "icon-btn conv-delete", "aria-label": "Delete " + title, title: "Delete" }, icon("trash"));
  remove.addEventListener("click", () => confirmDelete(conv));

  const item = h("li", { class: "conv-item" + (current ? " is-current" : "") + (conv.pinned ? " is-pinned" : ""), "data-id": conv.id },
    link, h("div", { class: "conv-actions" }, pin, rename, archive, remove));
  return item;
}

// --- pinning and archiving (PATCH {pinned} / {archived}; docs/protocol.md) ------------

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
  listEpoch += 1;
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
    if (conv.id !== state.currentId) navigate(conv.id, { push: true });
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

function upsertConversation(conv) {
  listEpoch += 1;
  const index = state.conversations.findIndex((c) => c.id === conv.id);
  if (index >= 0) state.conversations[index] = Object.assign({}, state.conversations[index], conv);
  else state.conversations.push(conv);
  sortConversations();
  renderSidebar();
}

function touchConversation(id) {
  const conv = state.conversations.find((c) => c.id === id);
  if (!conv) return;
  conv.updated_at = new Date().toISOString();
  sortConversations();
  renderSidebar();
}

async function loadConversations() {
  el.convStatus.hidden = false;
  el.convStatus.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), " Loading conversations…");
  try {
    const data = await api.listConversations();
    state.conversations = Array.isArray(data.conversations) ? data.conversations : [];
    state.archivedCount = Number(data.archived_count) || 0;
    state.conversationsLoaded = true;
    sortConversations();
    renderSidebar();
  } catch (err) {
    const retry = h("button", { type: "button", class: "link-btn" }, "Try again");
    retry.addEventListener("click", loadConversations);
    el.convStatus.replaceChildren(h("span", { text: "Couldn't load your conversations. " + err.message + " " }), retry);
    el.convStatus.hidden = false;
    if (err.status === 401) showBanner("You have been logged out.", { href: loginHref(), text: "Sign in again" });
  }
}

// Another tab may have pinned, archived, renamed or deleted conversations this one does not
// show: the list is read again when the tab comes back into view (at most every 2 s).
async function refreshConversations() {
  if (!state.conversationsLoaded || Date.now() - listReadAt < 2000) return;
  listReadAt = Date.now();
  const epoch = listEpoch;
  try {
    const data = await api.listConversations();
    // A change made here meanwhile (a pin on its way, say) is newer than this answer.
    if (!Array.isArray(data.conversations) || epoch !== listEpoch) return;
    const open = state.conversations.find((c) => c.id === state.currentId);
    state.conversations = data.conversations;
    state.archivedCount = Number(data.archived_count) || 0;
    // The open conversation stays known even when archived (its note, its Unarchive).
    if (open && !state.conversations.some((c) => c.id === open.id)) state.conversations.push(open);
    sortConversations();
    renderSidebar();
  } catch (_err) {
    // The list on screen stays; the next return into view tries again.
  }
}

function startRename(conv, item) {
  const link = item.querySelector(".conv-link");
  if (!link || item.querySelector(".conv-rename-input")) return;
  const original = conversationTitle(conv);
  const input = h("input", {
    type: "text",
    class: "conv-rename-input",
    value: original,
    maxlength: "200",
    "aria-label": "New title for " + original,
  });
  link.replaceWith(input);
  state.renaming = true;
  item.classList.add("is-editing");
  input.focus();
  input.select();

  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    state.renaming = false;
    const title = input.value.trim();
    if (!save || !title || title === original) {
      renderSidebar();
      return;
    }
    conv.title = title; // optimistic
    if (conv.id === state.currentId) setTitle(title);
    renderSidebar();
    try {
      const updated = await api.updateConversation(conv.id, { title });
      upsertConversation(updated);
      if (conv.id === state.currentId && state.current) {
        state.current.title = updated.title;
        setTitle(conversationTitle(updated));
      }
    } catch (err) {
      conv.title = original;
      if (conv.id === state.currentId) setTitle(original);
      renderSidebar();
      toast("Couldn't rename the conversation. " + err.message, "error");
    }
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      finish(true);
    } else if (event.key === "Escape") {
      event.preventDefault();
      finish(false);
    }
  });
  input.addEventListener("blur", () => finish(true));
}

function confirmDelete(conv, after) {
  const title = conversationTitle(conv);
  el.dialogText.textContent = "“" + title + "” and all its messages will be deleted. This cannot be undone.";
  el.dialog.returnValue = "";
  el.dialog.showModal();
  el.dialog.addEventListener("close", async function onClose() {
    el.dialog.removeEventListener("close", onClose);
    el.dialogText.textContent = "";
    if (el.dialog.returnValue !== "delete") return;
    try {
      await api.deleteConversation(conv.id);
    } catch (err) {
      if (err.status !== 404) {
        toast("Couldn't delete the conversation. " + err.message, "error");
        return;
      }
    }
    state.conversations = state.conversations.filter((c) => c.id !== conv.id);
    if (conv.archived) state.archivedCount = Math.max(0, state.archivedCount - 1);
    renderSidebar();
    toast("Conversation deleted.");
    if (after) after();
    if (conv.id === state.currentId) navigate(null, { push: true });
  });
}

// Phone width: the sidebar slides in over the page.
function openSidebar() {
  el.body.classList.add("sidebar-open");
  el.sidebarToggle.setAttribute("aria-expanded", "true");
  el.sidebarBackdrop.hidden = false;
  const target = el.sidebar.querySelector("[aria-current=page]") || el.newChat;
  target.focus();
}

function closeSidebar() {
  if (!el.body.classList.contains("sidebar-open")) return;
  el.body.classList.remove("sidebar-open");
  el.sidebarToggle.setAttribute("aria-expanded", "false");
  el.sidebarBackdrop.hidden = true;
}

// --- message views -------------------------------------------------------------------

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
    const extra = agentic.buildParts(h); // thinking panel and tool cards above, notes below
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

/** Bring a view's DOM up to date with its data. */
function paint(view) {
  if (view.role === "user") {
    if (view.parts.text.textContent !== view.text) view.parts.text.textContent = view.text;
    if (view.paintedContent !== view.content) {
      attachments.paintChips(view.parts.files, view.content, state.currentId);
      view.paintedContent = view.content;
    }
    view.node.classList.toggle("is-pending", view.id === null);
    view.node.classList.toggle("is-failed", !!view.failed);
    // Claude declined it: the question stays, marked (its reply says why, if it was told).
    view.node.classList.toggle("is-refused", !!view.refused);
    view.parts.refused.hidden = !view.refused;
    view.parts.refused.textContent = view.refused ? "Declined" : ""; // the bubble's text stays what was said
    view.node.classList.toggle("is-continuation", !!(view.options && view.options.continues));
    view.parts.edit.hidden = view.id === null || !!view.editing;
    paintVersions(view.parts.versions, view);
    return;
  }
  const p = view.parts;
  const streaming = view.status === "streaming";
  view.node.classList.toggle("is-streaming", streaming);
  view.node.setAttribute("aria-busy", streaming ? "true" : "false");
  view.node.dataset.status = view.status;
  // A finished reply that cites its documents is drawn from its blocks, with its sources.
  const cited = !streaming && render.hasCitations(view.content);
  const pieces = cited ? null : agentic.pieces(view);
  const drawn = cited ? view.content : pieces ? JSON.stringify(pieces) : view.text;
  if (view.renderedText !== drawn) {
    if (cited) render.renderReply(p.md, view.content);
    else if (pieces) drawPieces(p.md, pieces);
    else render.renderMarkdown(p.md, view.text);
    view.renderedText = drawn;
  }
  p.thinking.hidden = !(streaming && !view.text && !view.thinking);
  agentic.paint(view, p.extra, h);
  markQuestion(view);
  // A stopped or cut-short reply, the last on screen, can go on (an interrupted one offers
  // it in its error box, with Retry).
  const cut = cutShortWords(view);
  const goesOn = (view.status === "cancelled" || !!cut) && !!view.text.trim() && isLastOnScreen(view);
  p.extra.actions.hidden = !goesOn;
  p.extra.actions.replaceChildren(...(goesOn ? [continueButton(view)] : []));

  p.notice.hidden = !(streaming && view.notice);
  p.notice.textContent = view.notice || "";

  // "Stopped", or why the reply ended early (an interrupted one says so in its error box)
  const statusText = view.status === "cancelled" ? "Stopped" : cut;
  p.status.hidden = !statusText;
  p.status.textContent = statusText;
  p.status.classList.toggle("is-cut", !!cut);

  const showError = view.status === "error" || view.status === "interrupted" || (!!view.error && !streaming);
  if (showError && isRefusal(view)) {
    p.error.replaceChildren(...refusalBox(view));
    p.error.hidden = false;
  } else if (showError) {
    // error with Retry
    const words = render.describeError(view.error, view.status);
    const retry = h("button", { type: "button", class: "btn btn-small retry-btn", "data-action": "retry", disabled: view.retrying || null },
      icon("retry"), view.retrying ? "Retrying…" : "Retry");
    const children = [h("p", { class: "msg-error-text", text: words.headline })];
    if (words.detail) children.push(h("p", { class: "msg-error-detail", text: words.detail }));
    if (agentic.canContinue(view) && isLastOnScreen(view)) children.push(continueButton(view));
    children.push(retry);
    p.error.replaceChildren(...children);
    p.error.hidden = false;
  } else {
    p.error.hidden = true;
    p.error.replaceChildren();
  }

  paintFlags(p.flags, view);

  // footer: model · in · out · cost (once the reply has ended)
  // A failed reply offers Retry in its error box: no Regenerate beside it, no Copy without
  // words, and no "0 in · 0 out" when nothing was billed.
  const failed = showError && !isRefusal(view);
  const billed = !failed || wasBilled(view);
  if (!streaming && billed && (view.usage || (view.cost_usd !== null && view.cost_usd !== undefined))) {
    const line = h("span", { class: "msg-usage", text: render.formatFooter(view) });
    if (view.usage) line.title = render.usageDetails(view.usage);
    const copy = view.text.trim() ? h("button", { type: "button", class: "link-btn msg-copy", "data-action": "copy-reply", "aria-label": "Copy reply" }, "Copy") : null;
    const again = failed ? null : h("button", { type: "button", class: "link-btn msg-regenerate", "data-action": "retry", "aria-label": "Regenerate this reply" }, "Regenerate");
    p.footer.replaceChildren(...[line, copy, again].filter(Boolean));
    p.footer.hidden = false;
  } else {
    p.footer.hidden = true;
  }
  paintVersions(p.versions, view);
  const cacheText = streaming ? "" : render.cacheLine(view.usage, view.cache_saved_usd);
  p.cache.hidden = !cacheText;
  p.cache.textContent = cacheText;
}

/** A reply with tool calls, in the order it was written: each piece of text its own
 * block, the cards of the calls made after it below it. */
function drawPieces(container, pieces) {
  container.replaceChildren(...pieces.map((piece) => {
    if (piece.tools) return h("ol", { class: "tool-cards" }, ...agentic.drawCards(h, piece.tools));
    const part = h("div", { class: "md-part" });
    render.renderMarkdown(part, piece.text);
    return part;
  }));
}

/** Whether a reply used any tokens or cost anything. */
function wasBilled(view) {
  const cost = money.toPico(view.cost_usd);
  if (cost !== null && cost !== BigInt(0)) return true;
  const usage = view.usage || {};
  return Object.keys(usage).some((key) => key.endsWith("_tokens") && Number(usage[key]) > 0);
}

// Why a finished reply stopped before its end (stop_reason), as the reader is told.
const CUT_SHORT = {
  max_tokens: "Cut short: the reply reached its length limit",
  model_context_window_exceeded: "Cut short: the reply reached the model's context window",
};

function cutShortWords(view) {
  return view.status === "complete" ? CUT_SHORT[view.stop_reason] || "" : "";
}

function isRefusal(view) {
  return view.stop_reason === "refusal" || !!(view.error && view.error.code === "refusal");
}

/** The last message on screen (nothing sent after it yet): only it can be continued. */
function isLastOnScreen(view) {
  let last = el.messages.lastElementChild;
  while (last && last.classList.contains("is-pending")) last = last.previousElementSibling;
  return last === view.node && !state.pending.length;
}

/** Replies that could go on lose their Continue once something follows them. */
function refreshEndings() {
  for (const view of state.messages.values()) {
    if (view.role === "assistant" && (cutShortWords(view) || agentic.canContinue(view))) markDirty(view);
  }
}

/** The question of a declined reply is marked. One reply to a question is on screen at a
 * time, so the one painted last decides (a retried answer takes the mark off). */
function markQuestion(view) {
  const question = view.reply_to === null ? null : state.messages.get(view.reply_to);
  if (!question || question.role !== "user") return;
  const refused = isRefusal(view);
  if (question.refused === refused) return;
  question.refused = refused;
  paint(question);
}

/** The model a declined reply can be asked again on (the catalog's fallback_model). */
function fallbackFor(view) {
  const model = MODELS.find((m) => m.id === view.model);
  const id = model && model.fallback_model;
  return (id && MODELS.find((m) => m.id === id)) || null;
}

/** A declined question: why (Claude's explanation, when it gave one) and where to ask it. */
function refusalBox(view) {
  const details = (view.options && view.options.stop_details) || {};
  const explanation = typeof details.explanation === "string" ? details.explanation.trim() : "";
  const children = [
    h("p", { class: "msg-error-text", text: "Claude declined to answer this question." }),
    h("p", { class: "msg-error-detail msg-refusal-explanation",
      text: explanation || "No reason was given. You can edit the question, or ask another model." }),
  ];
  const fallback = fallbackFor(view);
  if (fallback) {
    children.push(h("button", { type: "button", class: "btn btn-small fallback-btn", "data-action": "fallback",
      disabled: view.retrying || null }, icon("retry"),
    view.retrying ? "Retrying…" : "Retry with " + fallback.display_name));
  }
  return children;
}

/** ‹ 2 / 3 ›: this message's place among its versions (edits, regenerated replies). */
function paintVersions(node, view) {
  const v = view.versions;
  node.hidden = !v || v.count < 2;
  if (node.hidden) {
    node.replaceChildren();
    return;
  }
  const what = view.role === "user" ? "message" : "reply";
  const step = (target, name, label) => h("button", { type: "button", class: "icon-btn version-btn",
    "data-action": "version", "data-target": target === null ? null : String(target),
    "aria-label": label + " version of this " + what, disabled: target === null || null }, icon(name));
  node.replaceChildren(step(v.previous_id, "prev", "Previous"),
    h("span", { class: "version-count", title: "Version " + v.index + " of " + v.count, text: v.index + " / " + v.count }),
    step(v.next_id, "next", "Next"));
}

async function showVersion(messageId) {
  if (state.currentId === null || isBusy()) return;
  const token = state.loadToken;
  try {
    const conv = await api.request("POST", "/api/conversations/" + state.currentId + "/branch/", { message_id: messageId });
    if (token === state.loadToken) applySnapshot(conv, { keepScroll: true });
    const view = state.messages.get(messageId);
    if (view) {
      const button = view.node.querySelector(".version-btn:not([disabled])");
      if (button) button.focus();
      if (view.versions) announce("Showing version " + view.versions.index + " of " + view.versions.count);
    }
  } catch (err) {
    toast("Couldn't show that version. " + err.message, "error");
  }
}

/** Edit a question in place: a new version is sent; the old one stays a branch away. */
function startEdit(view) {
  if (view.editing || isBusy()) return;
  view.editing = true;
  const box = h("textarea", { class: "edit-input", rows: "3", "aria-label": "Edit your message" });
  box.value = view.text;
  const save = h("button", { type: "submit", class: "btn btn-small" }, "Save and send");
  const cancel = h("button", { type: "button", class: "btn btn-small btn-quiet" }, "Cancel");
  const form = h("form", { class: "edit-form" }, box, h("div", { class: "edit-actions" }, cancel, save));
  const bubble = view.node.querySelector(".msg-bubble");
  bubble.hidden = true;
  bubble.after(form);
  paintNow(view);
  const finish = () => {
    form.remove();
    bubble.hidden = false;
    view.editing = false;
    paintNow(view);
  };
  cancel.addEventListener("click", () => {
    finish();
    view.parts.edit.focus();
  });
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      cancel.click();
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = box.value;
    if (!text.trim() || isBusy() || !state.socket) return;
    finish();
    state.awaitingReply = true;
    updateComposer();
    state.socket.send({ type: "edit_message", message_id: view.id, text, model: el.modelSelect.value || DEFAULT_MODEL });
  });
  box.focus();
}

/** The content checks' badge: what they found, explained on hover and to screen readers. */
function paintFlags(node, view) {
  const words = view.status === "streaming" ? null : render.describeFlags(view.flags);
  node.hidden = !words;
  if (!words) {
    node.replaceChildren();
    return;
  }
  node.replaceChildren(h("span", { class: "flag-badge", tabindex: "0", role: "note",
    title: words.detail, "aria-label": words.badge + ". " + words.detail, text: words.badge }));
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

// --- snapshot (GET /api/conversations/<id>/) ------------------------------------------

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

/** The header's conversation cost: state.costPico (null: nothing priced yet). */
function showConversationCost() {
  const total = state.costPico;
  if (total === null || total === undefined || total === BigInt(0)) {
    el.convCost.hidden = true;
    return;
  }
  // The words give way on a phone; the amount stays.
  el.convCost.replaceChildren(h("span", { class: "conv-cost-label", text: "Conversation cost " }), money.formatCost(total));
  el.convCost.hidden = false;
}

/** The conversation's total as the server added it up (every reply, title, summary and
 * Auto's routing), plus what ended after the server read it. `known`: message id -> the
 * cost the page had counted for it (pico-dollars). */
function rebaseConversationCost(conv, known) {
  let total = money.toPico(conv.cost_usd);
  for (const msg of Array.isArray(conv.messages) ? conv.messages : []) {
    const view = state.messages.get(msg.id);
    if (!view) continue;
    const stored = money.toPico(msg.cost_usd);
    const before = known.get(msg.id);
    // A reply that ended after the server read this: its end is not in the total yet.
    if (msg.status === "streaming" && view.status !== "streaming" && before !== undefined && before !== null) {
      total = (total === null ? BigInt(0) : total) + before - (stored === null ? BigInt(0) : stored);
      view.counted = before;
    } else {
      view.counted = stored;
    }
  }
  state.costPico = total;
  showConversationCost();
}

/** Read the total again once a reply has ended or the title came: the calls made besides
 * replies (the title, summaries, Auto's routing) are billed to the conversation too, and
 * the header should say what a reload would. */
let costRefresh = null;
let costRefreshAgain = false;
function refreshConversationCost() {
  const id = state.currentId;
  const token = state.loadToken;
  if (id === null) return;
  if (costRefresh) {
    costRefreshAgain = true; // what is being read may predate the call just billed
    return;
  }
  costRefresh = api.getConversation(id).then((conv) => {
    if (token !== state.loadToken) return;
    const known = new Map();
    for (const [messageId, view] of state.messages) known.set(messageId, view.counted);
    rebaseConversationCost(conv, known);
  }).catch(() => { /* the running total stays; a reload shows the stored one */ })
    .finally(() => {
      costRefresh = null;
      if (costRefreshAgain && token === state.loadToken) {
        costRefreshAgain = false;
        refreshConversationCost();
      }
    });
}

/** One rule for the running total, after a snapshot as after a live reply: a message
 * counts once, at its latest cost (a reply continued in place is stored with the cost of
 * all its parts, so only what it cost since it was last counted is added). */
function countMessageCost(view, cost) {
  const now = money.toPico(cost);
  if (now === null) return;
  const before = view.counted === null || view.counted === undefined ? BigInt(0) : view.counted;
  state.costPico = (state.costPico === null || state.costPico === undefined ? BigInt(0) : state.costPico) + now - before;
  view.counted = now;
  showConversationCost();
}

// --- frames from the server ----------------------------------------------------------

function onFrame(token, frame) {
  if (token !== state.loadToken) return;
  lastFrameAt = Date.now();
  if (!state.snapshotApplied) {
    state.frameBuffer.push(frame);
    return;
  }
  handleFrame(frame);
}

function flushFrameBuffer() {
  const frames = state.frameBuffer;
  state.frameBuffer = [];
  for (const frame of frames) handleFrame(frame);
}

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

function findViewByNode(node) {
  const id = node.dataset.id;
  if (id === undefined) return null;
  return state.messages.get(Number(id)) || null;
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

// --- the socket ----------------------------------------------------------------------

function openSocket(id, token) {
  const socket = new ConversationSocket(id, {
    onFrame: (frame) => onFrame(token, frame),
    onOpen: ({ reconnect, resync }) => {
      if (token !== state.loadToken) return;
      if (!state.fatal) hideBanner();
      // A resync we asked for gets its text from reply_state; nothing else to fetch.
      if (resync) return;
      if (!state.snapshotApplied) {
        // The first fetch started before this connection: it may be older than the
        // socket's view. Checked once it has been drawn (see navigate).
        state.needsResync = true;
        return;
      }
      // Frames may have been missed while we were away, or between the fetch and now:
      // fetch the conversation again. Frames keep being applied meanwhile (merged by seq).
      if (reconnect || hasStreamingView()) resyncSnapshot();
    },
    onState: (socketState) => {
      if (token !== state.loadToken) return;
      showConnectionState(socketState);
    },
    onFatal: (code) => {
      if (token !== state.loadToken) return;
      onSocketFatal(code);
    },
    onHandshakeFailure: (attempt) => {
      if (token !== state.loadToken || attempt < 2) return;
      // Ask the JSON API why: logged out? deleted?
      api.getConversation(id).catch((err) => {
        if (token !== state.loadToken) return;
        if (err.status === 401) onSocketFatal(4401);
        else if (err.status === 404) onSocketFatal(4404);
      });
    },
  });
  return socket;
}

let lastResyncAt = 0;
/** Reconnect so the server resends reply_state (at most once a second). */
function requestResync() {
  const now = Date.now();
  if (!state.socket || now - lastResyncAt < 1000) return;
  lastResyncAt = now;
  state.socket.resync();
}

// A streaming reply that goes silent this long is checked with the server: a frame lost on
// the way (say, a full queue in an overloaded server process) would otherwise leave it
// "streaming" for ever. The resync brings its reply_state, or a `ready` that no longer lists
// it, and then the conversation is fetched again (onReady).
const SILENCE_MS = Number(window.chatappSilenceMs) || 20000; // tests set it shorter
let lastFrameAt = Date.now();
window.setInterval(() => {
  if (!hasStreamingView() || Date.now() - lastFrameAt < SILENCE_MS) return;
  lastFrameAt = Date.now();
  requestResync();
}, Math.min(SILENCE_MS, 5000));

function hasStreamingView() {
  for (const view of state.messages.values()) if (view.status === "streaming") return true;
  return false;
}

let connTimer = null;
function showConnectionState(socketState) {
  window.clearTimeout(connTimer);
  if (socketState === "reconnecting") {
    // Say so only when it lasts: a quick resync is no news.
    connTimer = window.setTimeout(() => {
      el.connStatus.textContent = "Reconnecting…";
      el.connStatus.hidden = false;
    }, 1200);
  } else {
    el.connStatus.hidden = true;
    el.connStatus.textContent = "";
  }
}

function onSocketFatal(code) {
  state.fatal = true;
  if (state.socket) state.socket.close();
  state.streamingId = null;
  state.awaitingReply = false;
  for (const view of state.pending) {
    view.failed = true;
    paint(view);
  }
  if (code === 4401) {
    showBanner("You have been logged out.", { href: loginHref(), text: "Sign in again" });
  } else if (code === 4403 || code === 4404) {
    showBanner("This conversation was not found. It may have been deleted.", { href: "/", text: "Start a new chat" });
  } else {
    showBanner("The server refused the live connection. Try reloading the page.");
  }
  updateComposer();
}

// --- navigation ----------------------------------------------------------------------

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
    retry.addEventListener("click", () => navigate(state.currentId, { push: false }));
    el.banner.replaceChildren(h("span", { text: "Couldn't load this conversation. " + err.message + " " }), retry);
    el.banner.hidden = false;
  }
  updateEmptyState();
  updateComposer();
}

/**
 * Show conversation `id` (null: the empty "new chat" page).
 * options.push: add a history entry; options.known: a conversation we just created (empty).
 */
async function navigate(id, options) {
  const opts = options || {};
  const token = ++state.loadToken;
  if (state.socket) state.socket.close();
  state.socket = null;
  state.currentId = id;
  state.current = null;
  state.fatal = false;
  state.snapshotApplied = false;
  state.frameBuffer = [];
  state.needsResync = false;
  state.stickToBottom = true;
  el.jump.hidden = true; // the last conversation's "Jump to latest" means nothing here
  clearMessages();
  hideBanner();
  showArchivedNote();
  showConnectionState("open");
  state.costPico = null;
  showConversationCost();
  // A conversation created for an upload or a message keeps the composer's attachments.
  attachments.show(id, { keepTray: !!opts.known });

  const path = id === null ? "/" : "/c/" + id + "/";
  if (opts.push && window.location.pathname !== path) window.history.pushState({ id }, "", path);
  else if (opts.replace) window.history.replaceState({ id }, "", path);
  renderSidebar();

  if (id === null) {
    setTitle("New chat");
    setModel(el.modelSelect.value || DEFAULT_MODEL);
    state.snapshotApplied = true;
    el.loading.hidden = true;
    updateEmptyState();
    updateComposer();
    if (!opts.keepFocus) el.input.focus();
    return;
  }

  setTitle(opts.known ? conversationTitle(opts.known) : "Loading…");
  state.socket = openSocket(id, token);

  if (opts.known) {
    applySnapshot(Object.assign({ messages: [] }, opts.known));
    flushFrameBuffer();
    return;
  }

  el.loading.hidden = false;
  el.emptyState.hidden = true;
  updateComposer();
  try {
    const conv = await api.getConversation(id);
    if (token !== state.loadToken) return;
    applySnapshot(conv);
    flushFrameBuffer();
    if (state.needsResync) {
      state.needsResync = false;
      if (hasStreamingView()) resyncSnapshot();
    }
  } catch (err) {
    if (token !== state.loadToken) return;
    handleConversationLoadError(err);
  }
}

// --- composer ------------------------------------------------------------------------

function setModel(modelId) {
  if (!modelId) return;
  if (!Array.from(el.modelSelect.options).some((o) => o.value === modelId)) {
    // A model the catalogue no longer lists: show it rather than silently switching.
    el.modelSelect.append(h("option", { value: modelId, text: modelId }));
  }
  el.modelSelect.value = modelId;
  updateThinkingChoices();
}

/** The thinking control offers what the chosen model supports (everything for Auto). */
function updateThinkingChoices() {
  const id = el.modelSelect.value;
  agentic.fillThinkingSelect(el.thinkingSelect, agentic.thinkingChoices(MODELS, id), agentic.thinkingOffNote(MODELS, id));
}

function isBusy() {
  return state.streamingId !== null || state.awaitingReply;
}

function updateComposer() {
  const streaming = state.streamingId !== null;
  const hasText = el.input.value.trim().length > 0;
  el.send.classList.toggle("is-stop", streaming);
  el.send.replaceChildren(icon(streaming ? "stop" : "send"), h("span", { class: "send-text", text: streaming ? "Stop" : "Send" }));
  el.send.setAttribute("aria-label", streaming ? "Stop" : "Send");
  el.send.title = streaming ? "Stop the reply" : "Send (Enter)";
  if (streaming) el.send.disabled = state.fatal;
  else el.send.disabled = !hasText || state.awaitingReply || state.fatal || attachments.busy();
  el.input.disabled = state.fatal;
  el.modelSelect.disabled = state.fatal;
  el.thinkingSelect.disabled = state.fatal;
  el.composer.classList.toggle("is-busy", isBusy());
}

function autoGrow() {
  el.input.style.height = "auto";
  const max = Math.round(window.innerHeight * 0.4);
  el.input.style.height = Math.min(el.input.scrollHeight, max) + "px";
  el.input.style.overflowY = el.input.scrollHeight > max ? "auto" : "hidden";
}

let creating = null;

/** The open conversation's id, creating it first on the "New chat" page (null: failed). */
async function ensureConversation() {
  if (state.currentId !== null) return state.currentId;
  if (creating) return creating;
  const model = el.modelSelect.value || DEFAULT_MODEL;
  el.send.disabled = true;
  creating = (async () => {
    try {
      const conv = await api.createConversation({ model });
      upsertConversation(conv);
      await navigate(conv.id, { push: true, known: conv, keepFocus: true });
      return conv.id;
    } catch (err) {
      toast("Couldn't start a new conversation. " + err.message, "error");
      return null;
    } finally {
      creating = null;
      updateComposer();
    }
  })();
  return creating;
}

async function sendMessage() {
  const text = el.input.value;
  if (!text.trim() || isBusy() || state.fatal || creating || attachments.busy()) return;
  const model = el.modelSelect.value || DEFAULT_MODEL;

  if ((await ensureConversation()) === null) return;
  if (!state.socket || state.fatal) return;
  if (state.current && state.current.archived) unarchiveToContinue();

  const view = newView({ id: null, role: "user", status: "complete", text });
  state.pending.push(view);
  el.messages.append(view.node);
  paint(view);
  refreshEndings();
  updateEmptyState();

  el.input.value = "";
  autoGrow();
  state.awaitingReply = true;
  updateComposer();
  state.stickToBottom = true;
  scrollToBottom();
  const frame = { type: "user_message", text, model };
  if (el.thinkingSelect.value && el.thinkingSelect.value !== "off") frame.thinking = el.thinkingSelect.value;
  const files = attachments.readyIds();
  if (files.length) frame.attachments = files;
  attachments.sending(files);
  state.socket.send(frame);
}

/** Writing in an archived conversation brings it back to the sidebar: it is in use again.
 * (The server would take the message either way; this keeps the sidebar honest.) */
async function unarchiveToContinue() {
  const conv = state.conversations.find((c) => c.id === state.currentId) || state.current;
  if (await fileConversation(conv, { archived: false }, { quiet: true })) {
    toast("Unarchived: this conversation is back in the sidebar.");
  }
}

function stopReply() {
  if (!state.socket || state.streamingId === null) return;
  state.socket.send({ type: "stop", message_id: state.streamingId });
}

function continueButton(view) {
  return h("button", { type: "button", class: "btn btn-small continue-btn", "data-action": "continue",
    disabled: view.retrying || null }, "Continue");
}

/** An interrupted, stopped or cut-short reply goes on: the same message grows where the
 * model takes a prefill, else a short question asks for the rest in a new reply. */
function continueReply(view) {
  if (!state.socket || isBusy() || view.retrying) return;
  view.retrying = true;
  paintNow(view);
  state.awaitingReply = true;
  updateComposer();
  state.socket.send({ type: "continue", message_id: view.id });
}

function retryReply(view) {
  if (!state.socket || isBusy() || view.retrying) return;
  view.retrying = true;
  paintNow(view);
  state.awaitingReply = true;
  updateComposer();
  state.socket.send({ type: "regenerate", message_id: view.id });
}

/** A declined question asked again of the declining model's fallback (billed as usual). */
function retryOnFallback(view) {
  if (!state.socket || isBusy() || view.retrying || !fallbackFor(view)) return;
  view.retrying = true;
  paintNow(view);
  state.awaitingReply = true;
  updateComposer();
  state.socket.send({ type: "regenerate", message_id: view.id, fallback: true });
}

async function changeModel() {
  const model = el.modelSelect.value;
  attachments.repaint(); // image token estimates follow the selected model's image tier
  if (state.currentId === null || !state.current) return;
  const previous = state.current.model;
  if (model === previous) return;
  const token = state.loadToken;
  state.current.model = model;
  try {
    const updated = await api.updateConversation(state.currentId, { model });
    if (token !== state.loadToken) return;
    state.current.model = updated.model || model;
    upsertConversation({ id: state.currentId, model: state.current.model });
    attachments.refresh(); // documents' costs at the new model's prices
  } catch (err) {
    if (token !== state.loadToken) return;
    state.current.model = previous;
    setModel(previous);
    toast("Couldn't change the model. " + err.message, "error");
  }
}

// --- scrolling -----------------------------------------------------------------------

function distanceFromBottom() {
  const s = el.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight;
}

function scrollToBottom() {
  el.scroller.scrollTop = el.scroller.scrollHeight;
  state.stickToBottom = true;
}

function updateJumpButton() {
  el.jump.hidden = state.stickToBottom || distanceFromBottom() < 80;
}

// --- wiring --------------------------------------------------------------------------

function wire() {
  el.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    if (state.streamingId !== null) stopReply();
    else sendMessage();
  });
  el.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      if (state.streamingId === null) sendMessage();
    }
  });
  el.input.addEventListener("input", () => {
    autoGrow();
    updateComposer();
  });
  el.modelSelect.addEventListener("change", changeModel);
  el.modelSelect.addEventListener("change", updateThinkingChoices);

  // A new chat is stored when its first message is sent (ensureConversation), so clicks
  // that lead nowhere leave no empty conversations behind.
  el.newChat.addEventListener("click", () => {
    closeSidebar();
    if (state.currentId === null) {
      el.input.focus();
      return;
    }
    navigate(null, { push: true });
  });

  el.archivedBtn.addEventListener("click", openArchived);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refreshConversations();
  });
  window.addEventListener("focus", refreshConversations);
  el.unarchiveCurrent.addEventListener("click", async () => {
    const conv = state.conversations.find((c) => c.id === state.currentId) || state.current;
    // The note (and its button) goes away: the keyboard carries on in the message box.
    if (conv && (await fileConversation(conv, { archived: false }))) el.input.focus();
  });

  el.messages.addEventListener("click", async (event) => {
    const button = event.target.closest("button");
    if (!button || !el.messages.contains(button)) return;
    const article = button.closest(".msg");
    if (button.classList.contains("copy-code")) {
      const code = button.closest(".code-block").querySelector("pre code");
      const ok = await render.copyText(code ? code.textContent : "");
      flashButton(button, ok ? "Copied" : "Copy failed");
      return;
    }
    const view = article ? findViewByNode(article) : null;
    if (!view) return;
    if (button.dataset.action === "version") showVersion(Number(button.dataset.target));
    else if (button.dataset.action === "edit") startEdit(view);
    else if (button.dataset.action === "retry") retryReply(view);
    else if (button.dataset.action === "continue") continueReply(view);
    else if (button.dataset.action === "fallback") retryOnFallback(view);
    else if (button.dataset.action === "copy-reply") {
      const ok = await render.copyText(agentic.plainText(view));
      flashButton(button, ok ? "Copied" : "Copy failed");
    }
  });

  // Only the reader scrolling up unsticks the view; content growing below never does.
  let lastScrollTop = el.scroller.scrollTop;
  el.scroller.addEventListener("scroll", () => {
    const top = el.scroller.scrollTop;
    if (distanceFromBottom() < 40) state.stickToBottom = true;
    else if (top < lastScrollTop - 1) state.stickToBottom = false;
    lastScrollTop = top;
    updateJumpButton();
  }, { passive: true });
  el.jump.addEventListener("click", () => {
    scrollToBottom();
    updateJumpButton();
    el.input.focus();
  });

  el.sidebarToggle.addEventListener("click", () => {
    if (el.body.classList.contains("sidebar-open")) closeSidebar();
    else openSidebar();
  });
  el.sidebarBackdrop.addEventListener("click", closeSidebar);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && el.body.classList.contains("sidebar-open")) {
      closeSidebar();
      el.sidebarToggle.focus();
    }
  });

  window.addEventListener("popstate", () => {
    const id = parsePath(window.location.pathname);
    if (id !== state.currentId) navigate(id, { push: false });
  });
  window.addEventListener("resize", autoGrow);
}

/** Toasts rise above the composer, however tall it grows (attachments, a long message). */
function keepToastsClearOfComposer() {
  const wrap = el.composer.closest(".composer-wrap") || el.composer;
  const update = () => {
    const clearance = Math.max(0, window.innerHeight - wrap.getBoundingClientRect().top);
    document.documentElement.style.setProperty("--composer-clearance", Math.round(clearance) + "px");
  };
  new ResizeObserver(update).observe(wrap);
  window.addEventListener("resize", update);
  update();
}

function flashButton(button, text) {
  const original = button.textContent;
  button.textContent = text;
  window.setTimeout(() => {
    if (button.isConnected) button.textContent = original;
  }, 1500);
}

// --- start ---------------------------------------------------------------------------

attachments.init({
  ensureConversation,
  currentModel: () => el.modelSelect.value,
  onChange: () => updateComposer(),
  toast,
  announce,
});
wire();
keepToastsClearOfComposer();
setModel(DEFAULT_MODEL);
loadConversations();
navigate(typeof INITIAL_ID === "number" ? INITIAL_ID : null, { push: false, keepFocus: false });

// --- what the page's other modules use ---------------------------------------------------
// comforts.js (search, shortcuts, exporting and importing) and estimate.js:
export const currentId = () => state.currentId;
export function open(id, messageId) {
  closeSidebar();
  if (id === state.currentId && messageId !== undefined && messageId !== null) {
    jumpToMessage(messageId);
    return;
  }
  state.jumpTo = messageId === undefined ? null : messageId;
  navigate(id, { push: true });
}
export const newChat = () => el.newChat.click();
export const focusComposer = () => el.input.focus();
export function stop() {
  if (state.streamingId === null) return false;
  stopReply();
  return true;
}
export const conversations = () => state.conversations;
export const added = (conv) => upsertConversation(conv);
export { toast, announce };
// settings.js: the open conversation's settings, kept in step with the picker.
export const models = () => MODELS;
export const current = () => state.current;
export const composerModel = () => el.modelSelect.value || DEFAULT_MODEL;
export function settingsSaved(conv) {
  if (conv.id !== state.currentId) return;
  state.current = Object.assign({}, state.current, conv);
  delete state.current.messages;
  setModel(conv.model);
  upsertConversation({ id: conv.id, title: conv.title, model: conv.model });
  attachments.refresh(); // documents' costs follow the model
}
export function openNew(conv) {
  upsertConversation(conv);
  return navigate(conv.id, { push: true, known: conv });
}
