/* chatapp — everyday comforts around the chat page: search, keyboard shortcuts and their
 * help dialog, exporting and importing conversations, and a note in the tab title when a
 * reply finishes while the tab is in the background.
 *
 * Works through what the chat page's modules (chat/) offer: currentId(), open(), toast(), …
 */

import { focusComposer, stop } from "./chat/composer.js";
import { newChat, open } from "./chat/navigation.js";
import { toast } from "./chat/notices.js";
import { upsertConversation } from "./chat/sidebar.js";
import { conversations, currentId } from "./chat/state.js";
import { api } from "./lib/api.js";
import { $, h } from "./lib/dom.js";

const el = {
  searchForm: $("search-form"),
  searchInput: $("search-input"),
  searchPanel: $("search-panel"),
  searchStatus: $("search-status"),
  searchResults: $("search-results"),
  searchArchived: $("search-archived"),
  exportLinks: $("export-links"),
  exportMd: $("export-md"),
  exportJson: $("export-json"),
  importBtn: $("import-btn"),
  importInput: $("import-input"),
  helpBtn: $("help-btn"),
  help: $("help-dialog"),
  title: $("conv-title"),
};
const SEARCH_DELAY_MS = 250;

// --- search ------------------------------------------------------------------------------

let searchTimer = null;
let searchToken = 0;

function titleOf(conversationId) {
  const conv = conversations().find((c) => c.id === conversationId);
  return (conv && conv.title && conv.title.trim()) || "New chat";
}

function resultItem(hit) {
  // An archived conversation is not in the sidebar's list: the hit names it.
  const title = h("span", { class: "search-hit-title",
    text: hit.archived ? (hit.title || "").trim() || "New chat" : titleOf(hit.conversation_id) });
  if (hit.archived) title.append(h("span", { class: "search-hit-archived", text: " · archived" }));
  const snippet = h("span", { class: "search-hit-snippet", text: hit.message_id === null ? "Title matches" : hit.snippet });
  const link = h("a", { class: "search-hit", href: "/c/" + hit.conversation_id + "/" }, title, snippet);
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    open(hit.conversation_id, hit.message_id);
  });
  return h("li", null, link);
}

async function runSearch() {
  const query = el.searchInput.value.trim();
  const token = ++searchToken;
  if (!query) {
    closeSearch();
    return;
  }
  el.searchPanel.hidden = false;
  el.searchStatus.textContent = "Searching…";
  try {
    const archived = el.searchArchived.checked ? "&archived=1" : "";
    const data = await api.request("GET", "/api/search/?q=" + encodeURIComponent(query) + archived);
    if (token !== searchToken) return;
    el.searchResults.replaceChildren(...data.results.map(resultItem));
    const count = data.results.length;
    el.searchStatus.textContent = count
      ? count + (count === 1 ? " result" : " results") + " for “" + query + "”"
      : "Nothing found for “" + query + "”. Try fewer or other words.";
  } catch (err) {
    if (token !== searchToken) return;
    el.searchResults.replaceChildren();
    el.searchStatus.textContent = err.message;
  }
}

function closeSearch() {
  searchToken += 1;
  el.searchPanel.hidden = true;
  el.searchResults.replaceChildren();
  el.searchStatus.textContent = "";
}

el.searchInput.addEventListener("input", () => {
  window.clearTimeout(searchTimer);
  searchTimer = window.setTimeout(runSearch, SEARCH_DELAY_MS);
});
el.searchArchived.addEventListener("change", runSearch);
el.searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  window.clearTimeout(searchTimer);
  runSearch();
});
el.searchInput.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && el.searchInput.value) {
    event.preventDefault();
    event.stopPropagation();
    el.searchInput.value = "";
    closeSearch();
  } else if (event.key === "ArrowDown") {
    const first = el.searchResults.querySelector("a");
    if (first) {
      event.preventDefault();
      first.focus();
    }
  }
});

// --- export and import ----------------------------------------------------------------------

function updateExportLinks() {
  const id = currentId();
  el.exportLinks.hidden = id === null;
  if (id === null) return;
  const base = "/api/conversations/" + id + "/export/?format=";
  el.exportMd.href = base + "md";
  el.exportJson.href = base + "json";
}
// The header title changes on every navigation: the export links follow the conversation.
new MutationObserver(updateExportLinks).observe(el.title, { childList: true, characterData: true, subtree: true });
updateExportLinks();

el.importBtn.addEventListener("click", () => el.importInput.click());
el.importInput.addEventListener("change", async () => {
  const file = el.importInput.files[0];
  el.importInput.value = "";
  if (!file) return;
  el.importBtn.disabled = true;
  try {
    const data = await api.importConversation(await file.text());
    upsertConversation(data);
    // The server says what it left out (attached files are listed in an export, not carried).
    toast("Imported “" + (data.title || "conversation") + "”." + (data.notice ? " " + data.notice : ""));
    open(data.id);
  } catch (err) {
    toast("Couldn't import “" + file.name + "”. " + err.message, "error");
  } finally {
    el.importBtn.disabled = false;
  }
});

// --- keyboard shortcuts --------------------------------------------------------------------

function typingIn(target) {
  return target instanceof HTMLElement &&
    (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

function openHelp() {
  if (!el.help.open) el.help.showModal();
}

el.helpBtn.addEventListener("click", openHelp);

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.isComposing) return;
  const mod = event.ctrlKey || event.metaKey;
  const key = event.key.toLowerCase();
  if (mod && event.shiftKey && key === "o") {
    event.preventDefault();
    newChat();
  } else if (mod && !event.shiftKey && key === "k") {
    event.preventDefault();
    el.searchInput.focus();
    el.searchInput.select();
  } else if (event.key === "Escape" && event.shiftKey) {
    event.preventDefault();
    focusComposer();
  } else if (event.key === "Escape" && !document.querySelector("dialog[open]")) {
    if (stop()) event.preventDefault();
  } else if (!mod && !event.altKey && !typingIn(event.target)) {
    if (event.key === "/") {
      event.preventDefault();
      focusComposer();
    } else if (event.key === "?") {
      event.preventDefault();
      openHelp();
    }
  }
});

// --- the tab title when a reply finishes out of sight ---------------------------------------

const MARK = "● ";
document.addEventListener("chatapp:reply-finished", (event) => {
  if (!document.hidden || document.title.startsWith(MARK)) return;
  const done = event.detail && event.detail.status === "complete";
  document.title = MARK + (done ? "Reply ready — " : "Reply ended — ") + document.title;
});
document.addEventListener("visibilitychange", () => {
  if (document.hidden || !document.title.startsWith(MARK)) return;
  document.title = document.title.replace(/^● Reply (ready|ended) — /, "");
});
