/* chatapp chat page — the composer's controls as the state says: Send or Stop, what is
 * enabled, the model picker and the thinking choices it allows, the box's height. */

import * as agentic from "../agentic.js";
import { attachments } from "../attachments.js";
import { h } from "../lib/dom.js";
import { MODELS, el, icon, state } from "./state.js";

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

export { setModel, updateThinkingChoices, isBusy, updateComposer, autoGrow };
