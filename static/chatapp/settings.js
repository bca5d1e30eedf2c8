/* chatapp — the conversation's settings panel (system prompt, model, max output, prompt cache)
 * and the user's prompt presets (create, edit, delete, apply, start a chat). No temperature:
 * API version 2026-10-21 takes none on any model, so there is no control for one.
 *
 * Works through what the chat page's modules (chat/) offer about the open conversation. The
 * server checks everything again and answers mistakes in plain words, shown in the dialog,
 * which stays open with what was typed.
 */

import { composerModel, focusComposer, settingsSaved } from "./chat/composer.js";
import { openNew } from "./chat/navigation.js";
import { toast } from "./chat/notices.js";
import { current, currentId, models as pageModels } from "./chat/state.js";
import { api } from "./lib/api.js";
import { $, h } from "./lib/dom.js";
import { formatInt as number } from "./lib/format.js";
import { readJson } from "./lib/json.js";
// The page's one rule for amounts.
import { formatCost as usd } from "./lib/money.js";


const DEFAULT_MAX = readJson("default-max-output", 8192);
const AUTO = "auto";

const el = {
  open: $("settings-btn"),
  dialog: $("settings-dialog"),
  form: $("settings-form"),
  preset: $("settings-preset"),
  applyPreset: $("settings-apply-preset"),
  savePreset: $("settings-save-preset"),
  status: $("settings-status"),
  system: $("settings-system"),
  model: $("settings-model"),
  maxOutput: $("settings-max-output"),
  maxOutputHint: $("settings-max-output-hint"),
  ttlHints: { auto: $("settings-ttl-auto"), "5m": $("settings-ttl-5m"), "1h": $("settings-ttl-1h") },
  error: $("settings-error"),
  cancel: $("settings-cancel"),
  save: $("settings-save"),
  presetsOpen: $("presets-btn"),
  presets: $("presets-dialog"),
  presetsStatus: $("presets-status"),
  presetsList: $("presets-list"),
  presetForm: $("preset-form"),
  presetFormTitle: $("preset-form-title"),
  presetName: $("preset-name"),
  presetSystem: $("preset-system"),
  presetModel: $("preset-model"),
  presetError: $("preset-error"),
  presetCancelEdit: $("preset-cancel-edit"),
  presetSubmit: $("preset-submit"),
  presetsClose: $("presets-close"),
};

let presets = [];
let editing = null; // the preset being edited in the presets dialog

// --- model facts -------------------------------------------------------------------------

function models() {
  return pageModels();
}

function modelFacts(id) {
  return models().find((m) => m.id === id) || null;
}

function modelName(id) {
  if (id === AUTO) return "Auto";
  const facts = modelFacts(id);
  return facts ? facts.display_name : id;
}

function fillModelOptions(select, first) {
  const options = first ? [first] : [];
  options.push(new Option("Auto", AUTO));
  for (const m of models()) options.push(new Option(m.picker_label || m.display_name, m.id));
  select.replaceChildren(...options);
}

// --- the settings dialog ---------------------------------------------------------------------

function setError(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

function updateMaxOutput() {
  const facts = el.model.value === AUTO ? null : modelFacts(el.model.value);
  if (facts) {
    el.maxOutput.max = String(facts.max_output_tokens);
    el.maxOutput.placeholder = "Default: " + number(facts.default_max_output_tokens);
    el.maxOutputHint.textContent = "Up to " + number(facts.max_output_tokens) + " for " + facts.display_name +
      ". Leave empty for the default (" + number(facts.default_max_output_tokens) + ").";
  } else {
    el.maxOutput.removeAttribute("max");
    el.maxOutput.placeholder = "Default: " + number(DEFAULT_MAX);
    el.maxOutputHint.textContent = "Leave empty for the default (" + number(DEFAULT_MAX) + "); capped by the limit of the model Auto picks.";
  }
}

function times(part, whole) {
  return (Math.round((Number(part) / Number(whole)) * 100) / 100) + "×";
}

function updateCacheLines() {
  // With Auto, the prices are those of the model it picks for each message: none is quoted.
  const facts = el.model.value === AUTO ? null : modelFacts(el.model.value);
  const rates = facts && facts.cache_rates;
  el.ttlHints.auto.textContent = "— 5 minutes, or 1 hour when your questions come 5 to 60 minutes apart (cheaper then).";
  if (!rates) {
    el.ttlHints["5m"].textContent = "— writes cost a little more than input, reads far less; gone after 5 idle minutes.";
    el.ttlHints["1h"].textContent = "— writes cost about twice the input price; lasts an hour between questions.";
    return;
  }
  const per = " per million tokens";
  el.ttlHints["5m"].textContent = "— writing costs " + usd(rates.cache_write_5m) + per + " (" +
    times(rates.cache_write_5m, rates.input) + " input), reading " + usd(rates.cache_read) + "; gone after 5 idle minutes.";
  el.ttlHints["1h"].textContent = "— writing costs " + usd(rates.cache_write_1h) + per + " (" +
    times(rates.cache_write_1h, rates.input) + " input), reading " + usd(rates.cache_read) + "; lasts an hour between questions.";
}

function refreshFields() {
  updateMaxOutput();
  updateCacheLines();
}

function setModelChoice(id) {
  if (!Array.from(el.model.options).some((o) => o.value === id)) el.model.append(new Option(id, id));
  el.model.value = id;
}

function fillPresetChoices() {
  // The list is refreshed while the dialog is open: a choice already made survives it.
  const chosen = el.preset.value;
  el.preset.replaceChildren(new Option("Choose a preset…", ""),
    ...presets.map((p) => new Option(p.name, String(p.id))));
  if (presets.some((p) => String(p.id) === chosen)) el.preset.value = chosen;
  el.applyPreset.disabled = presets.length === 0;
}

async function loadPresets() {
  try {
    presets = (await api.request("GET", "/api/presets/")).presets;
  } catch (err) {
    presets = [];
    el.presetsStatus.textContent = "Couldn't load your presets. " + err.message;
  }
}

async function openSettings() {
  if (el.dialog.open || document.querySelector("dialog[open]")) return;
  const conv = current() || {};
  fillModelOptions(el.model);
  el.system.value = conv.system_prompt || "";
  setModelChoice(conv.model || composerModel());
  el.maxOutput.value = conv.max_output_tokens ? String(conv.max_output_tokens) : "";
  const ttl = conv.cache_ttl || "auto";
  for (const radio of el.form.elements.cache_ttl) radio.checked = radio.value === ttl;
  setError(el.error, "");
  el.status.textContent = "";
  refreshFields();
  el.preset.value = "";
  fillPresetChoices();
  el.dialog.showModal();
  el.system.focus();
  await loadPresets();
  fillPresetChoices();
}

function readSettings() {
  const body = { system_prompt: el.system.value, model: el.model.value };
  if (el.maxOutput.validity.badInput) throw new Error("Max output tokens must be a whole number, or empty for the default.");
  body.max_output_tokens = el.maxOutput.value.trim() === "" ? null : Number(el.maxOutput.value);
  const ttl = Array.from(el.form.elements.cache_ttl).find((r) => r.checked);
  body.cache_ttl = ttl ? ttl.value : "auto";
  return body;
}

async function saveSettings(event) {
  event.preventDefault();
  setError(el.error, "");
  let body;
  try {
    body = readSettings();
  } catch (err) {
    setError(el.error, err.message);
    return;
  }
  el.save.disabled = true;
  try {
    const id = currentId();
    if (id === null) {
      const conv = await api.createConversation(body);
      el.dialog.close();
      await openNew(conv);
    } else {
      const conv = await api.updateConversation(id, body);
      settingsSaved(conv);
      el.dialog.close();
    }
    toast("Settings saved: the next reply uses them.");
  } catch (err) {
    setError(el.error, "Couldn't save the settings. " + err.message);
  } finally {
    el.save.disabled = false;
  }
}

function applyPreset() {
  const preset = presets.find((p) => String(p.id) === el.preset.value);
  if (!preset) {
    el.status.textContent = "Choose a preset first.";
    return;
  }
  el.system.value = preset.system_prompt;
  if (preset.model) setModelChoice(preset.model);
  refreshFields();
  el.status.textContent = "Preset “" + preset.name + "” filled in: Save to use it.";
}

el.open.addEventListener("click", openSettings);
el.form.addEventListener("submit", saveSettings);
el.cancel.addEventListener("click", () => el.dialog.close());
el.model.addEventListener("change", refreshFields);
el.applyPreset.addEventListener("click", applyPreset);
el.savePreset.addEventListener("click", () => {
  const draft = {
    system_prompt: el.system.value,
    model: el.model.value,
  };
  el.dialog.close();
  openPresets(draft);
});

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.isComposing) return;
  if ((event.ctrlKey || event.metaKey) && !event.shiftKey && !event.altKey && event.key === ",") {
    event.preventDefault();
    openSettings();
  }
});

// --- the presets dialog ---------------------------------------------------------------------

function presetSummary(preset) {
  const parts = [];
  if (preset.model) parts.push(modelName(preset.model));
  const prompt = preset.system_prompt.trim();
  const text = prompt ? (prompt.length > 90 ? prompt.slice(0, 90) + "…" : prompt) : "(no system prompt)";
  return parts.length ? text + " · " + parts.join(" · ") : text;
}

function button(text, label, onClick, kind) {
  return h("button", { type: "button", class: "btn btn-small " + (kind || "btn-quiet"), "aria-label": label, text,
    onclick: onClick });
}

function presetItem(preset) {
  const info = h("div", { class: "preset-info" },
    h("strong", { class: "preset-name", text: preset.name }),
    h("span", { class: "preset-summary", text: presetSummary(preset) }));
  const remove = button("Delete", "Delete " + preset.name, () => deletePreset(preset, remove), "btn-quiet");
  const actions = h("div", { class: "preset-actions" },
    button("New chat", "New chat with " + preset.name, () => newChatFrom(preset), ""),
    button("Edit", "Edit " + preset.name, () => editPreset(preset)),
    remove,
  );
  return h("li", { class: "preset-row" }, info, actions);
}

function renderPresets() {
  el.presetsList.replaceChildren(...presets.map(presetItem));
  if (!el.presetsStatus.dataset.keep) {
    el.presetsStatus.textContent = presets.length ? "" :
      "No presets yet: add a system prompt you use often, then start chats from it or apply it in a chat's Settings.";
  }
  delete el.presetsStatus.dataset.keep;
}

function say(text) {
  el.presetsStatus.textContent = text;
  el.presetsStatus.dataset.keep = "1";
}

function resetPresetForm(draft) {
  editing = null;
  fillModelOptions(el.presetModel, new Option("Keep the chat's model", ""));
  el.presetFormTitle.textContent = "New preset";
  el.presetSubmit.textContent = "Add preset";
  el.presetCancelEdit.hidden = true;
  el.presetName.value = "";
  el.presetSystem.value = draft ? draft.system_prompt : "";
  el.presetModel.value = draft && draft.model ? draft.model : "";
  setError(el.presetError, "");
}

function editPreset(preset) {
  resetPresetForm();
  editing = preset;
  el.presetFormTitle.textContent = "Edit “" + preset.name + "”";
  el.presetSubmit.textContent = "Save preset";
  el.presetCancelEdit.hidden = false;
  el.presetName.value = preset.name;
  el.presetSystem.value = preset.system_prompt;
  if (preset.model) {
    if (!Array.from(el.presetModel.options).some((o) => o.value === preset.model)) el.presetModel.append(new Option(preset.model, preset.model));
    el.presetModel.value = preset.model;
  }
  el.presetName.focus();
}

async function openPresets(draft) {
  if (!el.presets.open) el.presets.showModal();
  resetPresetForm(draft);
  el.presetsList.replaceChildren(); // no stale rows to click while the list loads
  el.presetsStatus.textContent = "Loading your presets…";
  await loadPresets();
  renderPresets();
  if (draft) {
    say("Name this preset, then add it.");
    el.presetName.focus();
  }
}

async function submitPreset(event) {
  event.preventDefault();
  setError(el.presetError, "");
  const body = {
    name: el.presetName.value,
    system_prompt: el.presetSystem.value,
    model: el.presetModel.value || null,
  };
  el.presetSubmit.disabled = true;
  try {
    const saved = editing
      ? await api.request("PATCH", "/api/presets/" + editing.id + "/", body)
      : await api.request("POST", "/api/presets/", body);
    await loadPresets();
    say((editing ? "Saved “" : "Added “") + saved.name + "”.");
    renderPresets();
    resetPresetForm();
  } catch (err) {
    setError(el.presetError, "Couldn't save the preset. " + err.message);
  } finally {
    el.presetSubmit.disabled = false;
  }
}

async function deletePreset(preset, node) {
  if (node.dataset.confirm !== "1") {
    node.dataset.confirm = "1";
    node.textContent = "Really delete?";
    node.setAttribute("aria-label", "Really delete " + preset.name + "?");
    return;
  }
  try {
    await api.request("DELETE", "/api/presets/" + preset.id + "/");
    presets = presets.filter((p) => p.id !== preset.id);
    if (editing && editing.id === preset.id) resetPresetForm();
    say("Deleted “" + preset.name + "”.");
    renderPresets();
  } catch (err) {
    say("Couldn't delete “" + preset.name + "”. " + err.message);
  }
}

async function newChatFrom(preset) {
  try {
    const conv = await api.createConversation({ preset: preset.id });
    el.presets.close();
    await openNew(conv);
    toast("New chat with the preset “" + preset.name + "”.");
    focusComposer();
  } catch (err) {
    say("Couldn't start a chat from “" + preset.name + "”. " + err.message);
  }
}

el.presetsOpen.addEventListener("click", () => openPresets());
el.presetForm.addEventListener("submit", submitPreset);
el.presetCancelEdit.addEventListener("click", () => resetPresetForm());
el.presetsClose.addEventListener("click", () => el.presets.close());
