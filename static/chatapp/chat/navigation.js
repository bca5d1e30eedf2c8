/* chatapp chat page — which conversation is shown: navigate() draws one (or the empty
 * "New chat" page) and keeps the address and the history in step; Back and Forward. */

import { attachments } from "../attachments.js";
import { api } from "../lib/api.js";
import { flushFrameBuffer, openSocket, showConnectionState } from "./connection.js";
import { setModel, updateComposer } from "./controls.js";
import { showConversationCost } from "./cost.js";
import { showArchivedNote } from "./filing.js";
import { clearMessages, hasStreamingView, updateEmptyState } from "./messages.js";
import { hideBanner, setTitle } from "./notices.js";
import { showProject } from "./projects.js";
import { closeSidebar, renderSidebar, upsertConversation } from "./sidebar.js";
import { applySnapshot, handleConversationLoadError, jumpToMessage, resyncSnapshot } from "./snapshot.js";
import { DEFAULT_MODEL, conversationTitle, el, parsePath, state } from "./state.js";

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
  showProject();
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

function wireNavigation() {
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

  window.addEventListener("popstate", () => {
    const id = parsePath(window.location.pathname);
    if (id !== state.currentId) navigate(id, { push: false });
  });
}

// --- what the page's other scripts call (comforts.js, settings.js) ------------------------
function open(id, messageId) {
  closeSidebar();
  if (id === state.currentId && messageId !== undefined && messageId !== null) {
    jumpToMessage(messageId);
    return;
  }
  state.jumpTo = messageId === undefined ? null : messageId;
  navigate(id, { push: true });
}
const newChat = () => el.newChat.click();

function openNew(conv) {
  upsertConversation(conv);
  return navigate(conv.id, { push: true, known: conv });
}

export { navigate, wireNavigation, open, newChat, openNew };
