/* chatapp chat page — the composer: sending (a new chat is stored with its first message),
 * stopping a reply, changing the open conversation's model. */

import { attachments } from "../attachments.js";
import { api } from "../lib/api.js";
import { autoGrow, isBusy, setModel, updateComposer, updateThinkingChoices } from "./controls.js";
import { unarchiveToContinue } from "./filing.js";
import { newView, refreshEndings, updateEmptyState } from "./messages.js";
import { navigate } from "./navigation.js";
import { toast } from "./notices.js";
import { paint } from "./paint.js";
import { scrollToBottom } from "./scrolling.js";
import { upsertConversation } from "./sidebar.js";
import { DEFAULT_MODEL, el, state } from "./state.js";

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

function stopReply() {
  if (!state.socket || state.streamingId === null) return;
  state.socket.send({ type: "stop", message_id: state.streamingId });
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

function wireComposer() {
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
  window.addEventListener("resize", autoGrow);
}

// --- what the page's other scripts call (comforts.js, settings.js) ------------------------
const focusComposer = () => el.input.focus();

function stop() {
  if (state.streamingId === null) return false;
  stopReply();
  return true;
}
const composerModel = () => el.modelSelect.value || DEFAULT_MODEL;

function settingsSaved(conv) {
  if (conv.id !== state.currentId) return;
  state.current = Object.assign({}, state.current, conv);
  delete state.current.messages;
  setModel(conv.model);
  upsertConversation({ id: conv.id, title: conv.title, model: conv.model });
  attachments.refresh(); // documents' costs follow the model
}

export { ensureConversation, wireComposer, focusComposer, stop, composerModel, settingsSaved };
