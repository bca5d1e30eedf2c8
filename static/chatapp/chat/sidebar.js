/* chatapp chat page — the sidebar: the conversation list (pinned, then by date), read
 * again when the tab comes back, rows renamed and deleted; the drawer at phone width.
 * Pinning and archiving are filing.js. */

import { api } from "../lib/api.js";
import { h } from "../lib/dom.js";
import { loginHref, setTitle, showBanner, toast } from "./notices.js";
import { conversationTitle, el, icon, state, upcalls } from "./state.js";

let listReadAt = 0; // when the list was last read again (refreshConversations)
let listEpoch = 0; // bumped by every change this tab makes to the list
/** Every change this tab makes to the list: a read begun before it is out of date. */
function listChanged() {
  listEpoch += 1;
}

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
    if (conv.id !== state.currentId) upcalls.navigate(conv.id, { push: true });
  });

  const pinWord = conv.pinned ? "Unpin" : "Pin";
  const pin = h("button", { type: "button", class: "icon-btn conv-pin", "aria-label": pinWord + " " + title, title: pinWord }, icon(conv.pinned ? "unpin" : "pin"));
  pin.addEventListener("click", () => upcalls.fileConversation(conv, { pinned: !conv.pinned }));
  const rename = h("button", { type: "button", class: "icon-btn conv-rename", "aria-label": "Rename " + title, title: "Rename" }, icon("pencil"));
  rename.addEventListener("click", () => startRename(conv, item));
  const archive = h("button", { type: "button", class: "icon-btn conv-archive", "aria-label": "Archive " + title, title: "Archive" }, icon("archive"));
  archive.addEventListener("click", () => upcalls.fileConversation(conv, { archived: true }));
  const remove = h("button", { type: "button", class: "icon-btn conv-delete", "aria-label": "Delete " + title, title: "Delete" }, icon("trash"));
  remove.addEventListener("click", () => confirmDelete(conv));

  const item = h("li", { class: "conv-item" + (current ? " is-current" : "") + (conv.pinned ? " is-pinned" : ""), "data-id": conv.id },
    link, h("div", { class: "conv-actions" }, pin, rename, archive, remove));
  return item;
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
    if (conv.id === state.currentId) upcalls.navigate(null, { push: true });
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

function wireSidebar() {
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refreshConversations();
  });
  window.addEventListener("focus", refreshConversations);

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
}

export {
  listChanged, sortConversations, renderSidebar, upsertConversation, touchConversation,
  loadConversations, confirmDelete, closeSidebar, wireSidebar,
};
