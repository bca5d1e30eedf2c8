/* chatapp chat page — what a message's buttons do: show another version, edit a question,
 * retry, continue or ask the fallback model, copy a reply or a code block. */

import * as agentic from "../agentic.js";
import { api } from "../lib/api.js";
import { h } from "../lib/dom.js";
import * as render from "../render.js";
import { isBusy, updateComposer } from "./controls.js";
import { findViewByNode, paintNow } from "./messages.js";
import { announce, flashButton, toast } from "./notices.js";
import { fallbackFor } from "./paint.js";
import { applySnapshot } from "./snapshot.js";
import { DEFAULT_MODEL, el, state } from "./state.js";

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

function wireMessageActions() {
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
}

export { wireMessageActions };
