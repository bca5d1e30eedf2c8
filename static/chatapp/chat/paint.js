/* chatapp chat page — how one message view is drawn from its data (paint): the reply's
 * text or pieces, its status, error or refusal box, footer, flags, versions and cache line;
 * a question's chips, marks and Edit. */

import * as agentic from "../agentic.js";
import { attachments } from "../attachments.js";
import { h } from "../lib/dom.js";
import * as money from "../lib/money.js";
import * as render from "../render.js";
import { MODELS, el, icon, state } from "./state.js";

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
  agentic.paint(view, p.extra);
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
    if (piece.tools) return h("ol", { class: "tool-cards" }, ...agentic.drawCards(piece.tools));
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

function continueButton(view) {
  return h("button", { type: "button", class: "btn btn-small continue-btn", "data-action": "continue",
    disabled: view.retrying || null }, "Continue");
}

export { paint, cutShortWords, isRefusal, fallbackFor };
