/* chatapp — attachments on the chat page: the composer's tray (pick, drop or paste files),
 * the chips and thumbnails of sent messages, the image viewer and the documents dialog.
 *
 * An ES module (exports `attachments`); the chat page (chat/main.js) calls it with a few
 * hooks (init) and tells it when the conversation changes (show), when a message is sent
 * (sending / sent / unsent) and when the model changes (refresh). Everything the server says is set as text.
 *
 * A document's card says what the first question will cost (written to the prompt cache) and
 * what each later one will cost (read from it); an image's card says how many tokens the
 * selected model counts for it (by its image tier), recomputed when the model changes.
 */

import { api } from "./lib/api.js";
import { $, h, icon as lineIcon } from "./lib/dom.js";
import { formatBytes, formatInt } from "./lib/format.js";
import { readJson } from "./lib/json.js";
import * as money from "./lib/money.js";

const ACCEPT = ".pdf,.docx,.txt,.md,.markdown,image/jpeg,image/png,image/gif,image/webp,image/heic,image/avif";

const MODELS = readJson("models-data", []) || [];

const ICON_PATHS = {
  document: "M6 3h8l4 4v14H6z M14 3v4h4 M9 12h6 M9 16h6",
  image: "M4 5h16v14H4z M4 16l5-5 4 4 3-3 4 4 M15.5 9.5h.01",
};

const icon = (name, className) => lineIcon(ICON_PATHS[name], className);

const el = {};
let hooks = null;

const state = {
  conversationId: null,
  items: [], // the tray: {key, name, status: uploading|ready|error, data, error, sending}
  listed: [], // the conversation's attachments as the server last listed them
  nextKey: 1,
  loadToken: 0,
};

function fileUrl(conversationId, attachmentId, prepared) {
  return "/api/conversations/" + encodeURIComponent(conversationId) + "/attachments/" +
    encodeURIComponent(attachmentId) + "/file/" + (prepared ? "?variant=prepared" : "");
}

/** The selected model's facts (null for "Auto": the router picks one per message). */
function modelFacts() {
  const id = hooks.currentModel();
  return MODELS.find((m) => m.id === id) || null;
}

// --- what a card says ------------------------------------------------------------------------

function documentMeta(data) {
  const parts = [];
  if (data.pages) parts.push(formatInt(data.pages) + (data.pages === 1 ? " page" : " pages"));
  parts.push(formatBytes(data.size));
  parts.push(formatInt(data.tokens) + " tokens");
  return parts.join(" · ");
}

function documentCosts(data) {
  if (data.first_question_usd === null || data.first_question_usd === undefined) return "";
  return "First question " + money.formatCost(data.first_question_usd) +
    " · then " + money.formatCost(data.later_question_usd) + " each (read from the cache)";
}

function imageMeta(data) {
  const model = modelFacts();
  const tier = model && model.image_tier ? model.image_tier : "standard";
  const tokens = data.tokens_by_tier ? data.tokens_by_tier[tier] : data.tokens;
  const size = formatInt(data.width) + " × " + formatInt(data.height) + " px";
  const who = model ? " on " + model.display_name : "";
  return size + " · about " + formatInt(tokens) + " tokens" + who;
}

// --- the tray ---------------------------------------------------------------------------------

function card(item) {
  const data = item.data || {};
  const isImage = data.kind === "image";
  const classes = ["attachment-card", isImage ? "is-image" : "is-document", "is-" + item.status];
  const preview = isImage && item.status === "ready"
    ? h("img", { class: "attachment-thumb", src: data.preview_url, alt: item.name })
    : icon(isImage ? "image" : "document", "attachment-icon");
  const info = h("div", { class: "attachment-info" }, h("span", { class: "attachment-name", text: item.name }));
  if (item.status === "uploading") {
    info.append(h("span", { class: "attachment-meta" }, h("span", { class: "spinner", "aria-hidden": "true" }), " Uploading…"));
  } else if (item.status === "error") {
    info.append(h("span", { class: "attachment-error", role: "alert", text: item.error }));
  } else if (isImage) {
    info.append(h("span", { class: "attachment-meta", text: imageMeta(data) }));
  } else {
    info.append(h("span", { class: "attachment-meta", text: documentMeta(data) }));
    const costs = documentCosts(data);
    if (costs) info.append(h("span", { class: "attachment-cost", text: costs }));
  }
  const remove = h("button", {
    type: "button", class: "attachment-remove", "aria-label": "Remove " + item.name,
    title: item.status === "error" ? "Dismiss" : "Remove", text: "×",
    onclick: () => removeFromTray(item),
  });
  return h("li", { class: classes.join(" "), "data-name": item.name }, preview, info, remove);
}

function paintTray() {
  const visible = state.items.filter((item) => !item.sending);
  el.tray.replaceChildren(...visible.map(card));
  el.tray.hidden = visible.length === 0;
  hooks.onChange();
}

async function removeFromTray(item) {
  state.items = state.items.filter((other) => other !== item);
  paintTray();
  if (item.status === "uploading") item.cancelled = true; // deleted once its upload answers
  if (item.status !== "ready") return;
  try {
    await api.deleteAttachment(state.conversationId, item.data.id);
  } catch (err) {
    if (err.status !== 404) hooks.toast("Couldn't remove “" + item.name + "”. " + err.message, "error");
  }
}

async function uploadOne(file, conversationId) {
  const item = { key: state.nextKey++, name: file.name || "pasted file", status: "uploading", data: null };
  state.items.push(item);
  paintTray();
  try {
    item.data = await api.uploadAttachment(conversationId, file);
    item.status = "ready";
    if (item.cancelled || conversationId !== state.conversationId) {
      await api.deleteAttachment(conversationId, item.data.id).catch(() => {});
      return;
    }
    hooks.announce("Attached " + item.name + ".");
  } catch (err) {
    item.status = "error";
    item.error = "Couldn't attach it: " + err.message;
  }
  paintTray();
}

async function addFiles(fileList) {
  const files = Array.from(fileList || []);
  if (!files.length) return;
  const conversationId = await hooks.ensureConversation();
  if (conversationId === null) return;
  await Promise.all(files.map((file) => uploadOne(file, conversationId)));
}

// --- the conversation's attachments -----------------------------------------------------------

async function load() {
  const token = ++state.loadToken;
  const conversationId = state.conversationId;
  if (conversationId === null) return;
  try {
    const data = await api.listAttachments(conversationId);
    if (token !== state.loadToken) return;
    state.listed = Array.isArray(data.attachments) ? data.attachments : [];
  } catch (_err) {
    return; // the conversation itself reports load errors
  }
  // What waits in the composer (uploaded, not sent) comes back into the tray: nothing is lost.
  for (const data of state.listed) {
    if (data.message_id !== null) continue;
    const item = state.items.find((i) => i.data && i.data.id === data.id);
    if (item) item.data = data;
    else state.items.push({ key: state.nextKey++, name: data.name, status: "ready", data });
  }
  for (const item of state.items) {
    const fresh = state.listed.find((d) => item.data && d.id === item.data.id);
    if (fresh) item.data = fresh;
  }
  paintTray();
  paintDocumentsButton();
  markRemovedChips();
}

function sentAttachments() {
  return state.listed.filter((data) => data.message_id !== null);
}

// --- chips in sent messages -------------------------------------------------------------------

function chips(content, conversationId) {
  const references = (Array.isArray(content) ? content : []).filter((b) => b && b.type === "attachment");
  if (!references.length) return null;
  const list = h("div", { class: "msg-attachments" });
  for (const ref of references) {
    if (ref.kind === "image") {
      list.append(h("button", {
        type: "button", class: "attachment-chip is-image", "data-attachment-id": ref.attachment_id,
        "aria-label": "Open image " + ref.name, title: ref.name,
        onclick: () => openImage(conversationId, ref),
      }, h("img", { src: fileUrl(conversationId, ref.attachment_id, true), alt: ref.name })));
    } else {
      const pages = ref.pages ? " · " + formatInt(ref.pages) + (ref.pages === 1 ? " page" : " pages") : "";
      list.append(h("a", {
        class: "attachment-chip is-document", href: fileUrl(conversationId, ref.attachment_id, false),
        download: ref.name, "data-attachment-id": ref.attachment_id, title: "Download " + ref.name,
      }, icon("document", "chip-icon"), ref.name + pages));
    }
  }
  return list;
}

/** Chips of attachments that were removed say so (their links would only find nothing). */
function markRemovedChips() {
  const present = new Set(state.listed.map((data) => String(data.id)));
  for (const chip of document.querySelectorAll("#messages [data-attachment-id]")) {
    const removed = !present.has(chip.dataset.attachmentId);
    chip.classList.toggle("is-removed", removed);
    if (removed && chip.tagName === "A") chip.removeAttribute("href");
    if (removed) chip.title = "Removed from this conversation";
  }
}

function paintChips(container, content, conversationId) {
  const list = chips(content, conversationId);
  container.replaceChildren(...(list ? [list] : []));
  container.hidden = !list;
  if (list && state.listed.length) markRemovedChips();
}

function openImage(conversationId, ref) {
  el.imageView.src = fileUrl(conversationId, ref.attachment_id, false);
  el.imageView.alt = ref.name;
  el.imageTitle.textContent = ref.name;
  el.imageDialog.showModal();
}

// --- the documents dialog ---------------------------------------------------------------------

function paintDocumentsButton() {
  const count = sentAttachments().length;
  el.documentsButton.hidden = count === 0;
  // Documents and pictures alike: "Files".
  el.documentsButton.textContent = "Files (" + count + ")";
}

function documentRow(data) {
  const meta = data.kind === "image" ? imageMeta(data) : documentMeta(data);
  const download = h("a", { class: "btn btn-small", href: data.download_url, download: data.name, text: "Download" });
  const remove = h("button", { type: "button", class: "btn btn-small btn-quiet", text: "Remove" });
  const actions = h("div", { class: "documents-actions" }, download, remove);
  const row = h("li", { class: "documents-row" },
    h("div", { class: "attachment-info" },
      h("span", { class: "attachment-name", text: data.name }),
      h("span", { class: "attachment-meta", text: meta })),
    actions);
  remove.addEventListener("click", () => confirmRemoval(data, row, actions));
  return row;
}

function confirmRemoval(data, row, actions) {
  const later = data.later_question_usd ? " (about " + money.formatCost(data.first_question_usd) + " instead of " +
    money.formatCost(data.later_question_usd) + ")" : "";
  const words = "Remove “" + data.name + "”? Claude will no longer see it in this conversation. " +
    "Your next question re-creates the prompt cache without it, so that question costs more than usual" + later + ".";
  const yes = h("button", { type: "button", class: "btn btn-small btn-danger", text: "Remove" });
  const no = h("button", { type: "button", class: "btn btn-small btn-quiet", text: "Keep" });
  const question = h("div", { class: "documents-confirm", role: "alert" },
    h("p", { text: words }), h("div", { class: "documents-actions" }, no, yes));
  actions.replaceWith(question);
  no.addEventListener("click", () => question.replaceWith(actions));
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    try {
      await api.deleteAttachment(state.conversationId, data.id);
    } catch (err) {
      if (err.status !== 404) {
        hooks.toast("Couldn't remove “" + data.name + "”. " + err.message, "error");
        question.replaceWith(actions);
        return;
      }
    }
    row.remove();
    state.listed = state.listed.filter((other) => other.id !== data.id);
    paintDocumentsButton();
    markRemovedChips();
    hooks.announce("Removed " + data.name + ". The next question re-creates the cache.");
    if (!sentAttachments().length) el.documentsDialog.close();
  });
}

function openDocuments() {
  const rows = sentAttachments().map(documentRow);
  el.documentsList.replaceChildren(...rows);
  el.documentsDialog.showModal();
}

// --- drop and paste ----------------------------------------------------------------------------

function hasFiles(event) {
  return !!event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files");
}

function wire() {
  el.attachButton.addEventListener("click", () => el.input.click());
  el.input.setAttribute("accept", ACCEPT);
  el.input.addEventListener("change", () => {
    const files = Array.from(el.input.files || []);
    el.input.value = "";
    addFiles(files);
  });
  let depth = 0;
  el.dropArea.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    el.dropArea.classList.add("is-dropping");
  });
  el.dropArea.addEventListener("dragover", (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  el.dropArea.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) el.dropArea.classList.remove("is-dropping");
  });
  el.dropArea.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    el.dropArea.classList.remove("is-dropping");
    addFiles(event.dataTransfer.files);
  });
  el.textInput.addEventListener("paste", (event) => {
    const files = event.clipboardData ? Array.from(event.clipboardData.files || []) : [];
    if (!files.length) return;
    event.preventDefault();
    addFiles(files);
  });
  el.documentsButton.addEventListener("click", openDocuments);
}

// --- what the chat page calls (chat/) ----------------------------------------------------------

export const attachments = {
  /** hooks: ensureConversation() → Promise<id|null>, currentModel(), onChange(), toast(), announce(). */
  init(given) {
    hooks = given;
    Object.assign(el, {
      tray: $("attachment-tray"), input: $("attach-input"), attachButton: $("attach-btn"),
      dropArea: $("main"), textInput: $("composer-input"),
      documentsButton: $("documents-btn"), documentsDialog: $("documents-dialog"),
      documentsList: $("documents-list"), imageDialog: $("image-dialog"),
      imageView: $("image-view"), imageTitle: $("image-title"),
    });
    wire();
  },
  /** A conversation is shown (null: a new chat); keepTray when it was just created for us. */
  show(conversationId, { keepTray = false } = {}) {
    state.conversationId = conversationId;
    state.listed = [];
    if (!keepTray) state.items = [];
    paintTray();
    paintDocumentsButton();
    load();
  },
  refresh: () => load(),
  repaint: () => paintTray(),
  busy: () => state.items.some((item) => item.status === "uploading"),
  readyIds: () => state.items.filter((i) => i.status === "ready" && !i.sending).map((i) => i.data.id),
  /** The tray's attachments went out with a message: hidden until the server confirms. */
  sending(ids) {
    for (const item of state.items) if (item.data && ids.includes(item.data.id)) item.sending = true;
    paintTray();
  },
  sent() {
    state.items = state.items.filter((item) => !item.sending);
    paintTray();
    load();
  },
  unsent() {
    for (const item of state.items) item.sending = false;
    paintTray();
  },
  paintChips,
};
