/* chatapp chat page — the conversation's cost in the header: the server's total, kept
 * running as replies end, in exact pico-dollars (lib/money.js). */

import { api } from "../lib/api.js";
import { h } from "../lib/dom.js";
import * as money from "../lib/money.js";
import { el, state } from "./state.js";

/** The header's conversation cost: state.costPico (null: nothing priced yet). */
function showConversationCost() {
  const total = state.costPico;
  if (total === null || total === undefined || total === BigInt(0)) {
    el.convCost.hidden = true;
    return;
  }
  // The words give way on a phone; the amount stays.
  el.convCost.replaceChildren(h("span", { class: "conv-cost-label", text: "Conversation cost " }), money.formatCost(total));
  el.convCost.hidden = false;
}

/** The conversation's total as the server added it up (every reply, title, summary and
 * Auto's routing), plus what ended after the server read it. `known`: message id -> the
 * cost the page had counted for it (pico-dollars). */
function rebaseConversationCost(conv, known) {
  let total = money.toPico(conv.cost_usd);
  for (const msg of Array.isArray(conv.messages) ? conv.messages : []) {
    const view = state.messages.get(msg.id);
    if (!view) continue;
    const stored = money.toPico(msg.cost_usd);
    const before = known.get(msg.id);
    // A reply that ended after the server read this: its end is not in the total yet.
    if (msg.status === "streaming" && view.status !== "streaming" && before !== undefined && before !== null) {
      total = (total === null ? BigInt(0) : total) + before - (stored === null ? BigInt(0) : stored);
      view.counted = before;
    } else {
      view.counted = stored;
    }
  }
  state.costPico = total;
  showConversationCost();
}

/** Read the total again once a reply has ended or the title came: the calls made besides
 * replies (the title, summaries, Auto's routing) are billed to the conversation too, and
 * the header should say what a reload would. */
let costRefresh = null;

let costRefreshAgain = false;
function refreshConversationCost() {
  const id = state.currentId;
  const token = state.loadToken;
  if (id === null) return;
  if (costRefresh) {
    costRefreshAgain = true; // what is being read may predate the call just billed
    return;
  }
  costRefresh = api.getConversation(id).then((conv) => {
    if (token !== state.loadToken) return;
    const known = new Map();
    for (const [messageId, view] of state.messages) known.set(messageId, view.counted);
    rebaseConversationCost(conv, known);
  }).catch(() => { /* the running total stays; a reload shows the stored one */ })
    .finally(() => {
      costRefresh = null;
      if (costRefreshAgain && token === state.loadToken) {
        costRefreshAgain = false;
        refreshConversationCost();
      }
    });
}

/** One rule for the running total, after a snapshot as after a live reply: a message
 * counts once, at its latest cost (a reply continued in place is stored with the cost of
 * all its parts, so only what it cost since it was last counted is added). */
function countMessageCost(view, cost) {
  const now = money.toPico(cost);
  if (now === null) return;
  const before = view.counted === null || view.counted === undefined ? BigInt(0) : view.counted;
  state.costPico = (state.costPico === null || state.costPico === undefined ? BigInt(0) : state.costPico) + now - before;
  view.counted = now;
  showConversationCost();
}

export { showConversationCost, rebaseConversationCost, refreshConversationCost, countMessageCost };
