/* chatapp — what a reply shows besides its answer: the "Thinking" panel, tool call cards,
 * and its notes (restarted, earlier turns summarised, which model Auto chose and why).
 *
 * Thinking written between tool calls (Opus 5.5 and Sonnet 5.5 send the text they write
 * between tool calls as thinking blocks) is shown on the card of the call it leads to, not
 * in the panel; a thinking block with no text (display "omitted") opens no empty panel: the
 * reply just says that Claude thought.
 *
 * An ES module; the chat page's message views (chat/messages.js, chat/paint.js) are passed to
 * these; everything here is drawn with textContent (no HTML from the server).
 */

import { h, icon } from "./lib/dom.js";
import { formatInt } from "./lib/format.js";

/** Thinking text, tool cards and notes of a message as the server stored it. */
function fromMessage(msg) {
  const content = Array.isArray(msg.content) ? msg.content : [];
  const toolMs = (msg.options && msg.options.tool_ms) || {};
  const cards = new Map();
  let thinking = "";
  let hidden = "";
  let order = 0;
  let lead = ""; // a thinking block right before a tool call: what led to that call
  let written = 0; // the reply's text so far: where a tool card stands in it
  content.forEach((block, index) => {
    if (block.type === "text") {
      written += (block.text || "").length;
    } else if (block.type === "thinking") {
      const next = content[index + 1];
      if (!block.thinking) hidden = hidden || "omitted";
      else if (next && next.type === "tool_use") lead = block.thinking;
      else thinking += (thinking ? "\n\n" : "") + block.thinking;
    } else if (block.type === "redacted_thinking") {
      hidden = "redacted";
    } else if (block.type === "tool_use") {
      order += 1;
      cards.set(block.id, { id: block.id, order, at: written, name: block.name, input: block.input || {}, status: "running", lead });
      lead = "";
    } else if (block.type === "tool_result" && cards.has(block.tool_use_id)) {
      const card = cards.get(block.tool_use_id);
      card.status = block.is_error ? "error" : "done";
      card.result = typeof block.content === "string" ? block.content : JSON.stringify(block.content);
      if (toolMs[block.tool_use_id] !== undefined) card.ms = toolMs[block.tool_use_id];
    }
  });
  return {
    thinking,
    thinkingHidden: hidden,
    tools: cards,
    notes: Array.isArray(msg.notes) ? msg.notes.slice() : [],
    thinkingTokens: Number(msg.thinking_tokens) || 0,
  };
}

function initView(view, msg) {
  Object.assign(view, fromMessage(msg));
  view.traceOpen = null; // null: follow the reply (open while thinking, closed after)
}

/** A delta frame's thinking text. */
function onDelta(view, frame) {
  if (typeof frame.thinking === "string" && frame.thinking) view.thinking += frame.thinking;
}

/** A tool_call frame: a card starts or ends. A new card stands where the text has got to. */
function onToolCall(view, frame) {
  const card = frame.tool;
  if (!card || typeof card.id !== "string") return;
  const known = view.tools.get(card.id) || { at: view.text.length };
  view.tools.set(card.id, Object.assign({}, known, card));
}

function sortedCards(view) {
  return Array.from(view.tools.values()).sort((a, b) => (a.order || 0) - (b.order || 0));
}

/** The reply in the order it was written: pieces of text ({text}) and the tool cards
 * called between them ({tools}); null when there is no tool call. */
function pieces(view) {
  const cards = sortedCards(view);
  if (!cards.length) return null;
  const text = view.text || "";
  const items = [];
  let from = 0;
  const addText = (piece) => {
    if (piece.trim()) items.push({ text: piece });
  };
  for (const tool of cards) {
    const at = Math.min(Math.max(typeof tool.at === "number" ? tool.at : text.length, from), text.length);
    addText(text.slice(from, at));
    from = at;
    const last = items[items.length - 1];
    if (last && last.tools) last.tools.push(tool);
    else items.push({ tools: [tool] });
  }
  addText(text.slice(from));
  return items;
}

/** The reply's words as the reader sees them: each piece of text its own paragraph. */
function plainText(view) {
  const items = pieces(view);
  if (!items) return view.text;
  return items.filter((item) => item.text).map((item) => item.text.trim()).join("\n\n");
}

/** The tool cards of a piece, as list items. */
function drawCards(tools) {
  return tools.map(card);
}

/** A reply_state (joining late, or an attempt restarted in place). */
function onReplyState(view, frame) {
  if (typeof frame.thinking === "string") view.thinking = frame.thinking;
  if (Array.isArray(frame.tools)) {
    for (const card of frame.tools) onToolCall(view, { tool: card });
  }
  if (Array.isArray(frame.notes)) view.notes = frame.notes.slice();
  if (typeof frame.note === "string" && frame.note && !view.notes.includes(frame.note)) {
    view.notes.push(frame.note);
  }
}

function onCompleted(view, frame) {
  const stored = fromMessage(frame);
  if (Array.isArray(frame.content)) {
    view.tools = stored.tools;
    // The stored blocks say where each thought belongs (the panel, or a tool card); a reply
    // stopped mid-thought stores none, and keeps what streamed.
    const thought = frame.content.some((block) => block.type === "thinking" && block.thinking);
    view.thinking = thought ? stored.thinking : view.thinking;
    view.thinkingHidden = stored.thinkingHidden;
  }
  if (Array.isArray(frame.notes)) view.notes = stored.notes;
  view.thinkingTokens = stored.thinkingTokens;
}

// --- drawing -------------------------------------------------------------------------

function buildParts() {
  const summary = h("summary", { class: "trace-summary" });
  const thinkingText = h("div", { class: "trace-thinking" });
  const tools = h("ol", { class: "tool-cards" });
  const trace = h("details", { class: "msg-trace", hidden: true }, summary, thinkingText);
  // Thinking with nothing to show (omitted or redacted): a line, never an empty panel.
  const thought = h("p", { class: "msg-thought", hidden: true });
  trace.addEventListener("toggle", () => {
    // Our own opening and closing also fire "toggle": only a change we did not make counts.
    if ((trace.open ? "open" : "closed") !== trace.dataset.auto) trace.dataset.userToggled = "1";
  });
  const notes = h("ul", { class: "msg-notes", hidden: true });
  const actions = h("div", { class: "msg-actions", hidden: true });
  return { trace, thought, summary, thinkingText, tools, notes, actions };
}

function describeInput(input) {
  try {
    const json = JSON.stringify(input);
    return json.length > 300 ? json.slice(0, 300) + "…" : json;
  } catch (_err) {
    return "";
  }
}

function card(tool) {
  const status = tool.status === "running" ? "running…" : tool.status === "error" ? "failed" : "done";
  const time = typeof tool.ms === "number" ? " · " + tool.ms + " ms" : "";
  const head = h("div", { class: "tool-head" },
    h("span", { class: "tool-name", text: tool.name || "tool" }),
    h("span", { class: "tool-status", text: status + time }));
  const input = h("pre", { class: "tool-input", text: describeInput(tool.input) });
  const children = [head, input];
  // What Claude wrote on its way to this call (between tool calls).
  if (tool.lead) children.unshift(h("p", { class: "tool-lead", text: tool.lead }));
  if (typeof tool.result === "string") {
    children.push(h("pre", { class: "tool-result", text: tool.result }));
  }
  return h("li", { class: "tool-card is-" + (tool.status || "running"), "data-tool": tool.id }, ...children);
}

function paint(view, parts) {
  const streaming = view.status === "streaming";
  const hasThinking = !!view.thinking;
  // The panel is open while Claude thinks, then collapses (unless the reader toggled it).
  if (!parts.trace.dataset.userToggled) {
    const open = streaming && !view.text;
    parts.trace.dataset.auto = open ? "open" : "closed";
    parts.trace.open = open;
  }
  parts.trace.hidden = !hasThinking;
  const tokens = view.thinkingTokens ? " · " + formatInt(view.thinkingTokens) + " tokens" : "";
  let thought = "";
  if (!hasThinking && view.thinkingHidden === "redacted") thought = "Claude's thinking was redacted by the safety system";
  else if (!hasThinking && view.thinkingHidden) thought = "Claude thought (not shown)";
  parts.thought.hidden = !thought;
  parts.thought.textContent = thought ? thought + tokens : "";
  let label = "Thinking";
  if (view.thinkingHidden === "redacted") label = "Thinking (partly redacted by the safety system)";
  label += tokens;
  if (streaming && hasThinking && !view.text) label += "…";
  if (parts.summary.textContent !== label) parts.summary.textContent = label;
  if (parts.thinkingText.textContent !== view.thinking) parts.thinkingText.textContent = view.thinking;

  // The cards stand between the pieces of text they came between (chat/paint.js draws
  // them with the text); this list above the text holds none.
  parts.tools.hidden = true;
  parts.tools.replaceChildren();

  parts.notes.hidden = view.notes.length === 0;
  parts.notes.replaceChildren(...view.notes.map((text) => h("li", { class: "msg-note" }, infoIcon(), text)));
}

// An "i" in a circle, drawn (the "ⓘ" character is missing from fonts without symbols).
const infoIcon = () =>
  icon("M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18z M12 11v6 M12 7.5v0.5", "msg-note-icon");

/** Whether a reply can be continued (interrupted or stopped, with text to go on from). */
function canContinue(view) {
  return (view.status === "interrupted" || view.status === "cancelled") && !!view.text.trim();
}

/** The thinking control's options for a model entry (all of them for Auto). */
function thinkingChoices(models, modelId) {
  if (modelId === "auto") return ["off", "low", "medium", "high", "xhigh", "max"];
  const model = models.find((m) => m.id === modelId);
  return (model && Array.isArray(model.thinking) && model.thinking.length) ? model.thinking : ["off"];
}

const CHOICE_WORDS = { off: "Thinking off", on: "Thinking on", low: "Think: low",
  medium: "Think: medium", high: "Think: high", xhigh: "Think: extra high", max: "Think: max" };
const CONTROL_TITLE = "Extended thinking for this message";

/** What Off means on a model that cannot simply turn thinking off (catalog data: the
 * model's thinking_off_note, e.g. "This model always thinks; Off uses low effort."). */
function thinkingOffNote(models, modelId) {
  const model = models.find((m) => m.id === modelId);
  return (model && model.thinking_off_note) || "";
}

function fillThinkingSelect(select, choices, offNote) {
  const previous = select.value;
  select.replaceChildren(...choices.map((value) => {
    const minimum = value === "off" && !!offNote;
    return h("option", { value, text: minimum ? "Thinking: minimum" : CHOICE_WORDS[value] || value,
      title: minimum ? offNote : null });
  }));
  select.title = offNote ? CONTROL_TITLE + ". " + offNote : CONTROL_TITLE;
  select.value = choices.includes(previous) ? previous : "off";
  select.hidden = choices.length < 2;
}

export {
  initView, onDelta, onToolCall, onReplyState, onCompleted, buildParts, paint, pieces, plainText, drawCards,
  canContinue, thinkingChoices, thinkingOffNote, fillThinkingSelect,
};
