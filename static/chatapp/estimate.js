/* chatapp — the composer's estimate of what the message being typed will cost
 * (POST /api/estimate/, see chatapp/estimates.py).
 *
 * Asked again after a pause in typing, and at once when the model, the thinking setting or
 * the attachments change, or a reply ends (the cache's state moves). Answers that arrive
 * after a newer question are dropped. It never blocks typing; when counting fails it says
 * "Estimate unavailable", and for a model the user's groups do not allow "Model not allowed".
 */

import { attachments } from "./attachments.js";
import { currentId } from "./chat/state.js";
import { api } from "./lib/api.js";
import { $ } from "./lib/dom.js";
import { formatInt as count } from "./lib/format.js";
// The page's one rule for amounts.
import { formatCost as money } from "./lib/money.js";


/** Asks for estimates as the composer changes; does nothing on a page without the line. */
function startEstimates() {
  const node = $("cost-estimate");
  const input = $("composer-input");
  if (!node || !input) return;

  const TYPING_PAUSE_MS = 500;
  let timer = null;
  let asked = 0; // the number of the newest question; older answers are dropped

  function question() {
    const model = $("model-select");
    const thinking = $("thinking-select");
    return {
      conversation: currentId(),
      text: input.value,
      model: model ? model.value : null,
      thinking: thinking && thinking.value !== "off" ? thinking.value : null,
      attachments: attachments.readyIds(),
    };
  }

  function describe(answer) {
    const share = Math.round(answer.cache_share * 100);
    let text = "≈ " + count(answer.input_tokens) + " tokens in";
    if (share > 0) text += ", " + share + "% from cache";
    if (answer.cost_low_usd === null) return text + " · no price for this model";
    return text + " · " + money(answer.cost_low_usd) + "–" + money(answer.cost_high_usd);
  }

  function details(answer) {
    const parts = [
      count(answer.input_tokens - answer.text_tokens - answer.attachment_tokens) + " tokens of conversation so far",
      count(answer.text_tokens) + " typed",
    ];
    if (answer.attachment_tokens) parts.push(count(answer.attachment_tokens) + " attached");
    return "Input: " + parts.join(", ") + "; " + count(answer.cached_tokens) +
      " expected from the prompt cache (" + answer.ttl + "). Output: a typical reply of " +
      count(answer.expected_output_tokens) + " tokens, at most " + count(answer.max_output_tokens) + ".";
  }

  function show(text, title, level) {
    node.textContent = text;
    node.title = title || "";
    node.dataset.level = level || "";
    node.hidden = false;
  }

  async function run() {
    timer = null;
    const body = question();
    if (!body.text.trim() && !body.attachments.length) {
      node.hidden = true;
      node.textContent = "";
      return;
    }
    const mine = ++asked;
    node.classList.add("is-stale");
    try {
      const answer = await api.estimate(body);
      if (mine !== asked) return;
      show(describe(answer), details(answer), "ok");
    } catch (err) {
      if (mine !== asked) return;
      if (err.status === 403) {
        // A model the user's groups do not allow: sending would be refused in the same words.
        show("Model not allowed", err.message, "unavailable");
        return;
      }
      show("Estimate unavailable", "The cost could not be estimated right now; sending still works.", "unavailable");
    } finally {
      if (mine === asked) node.classList.remove("is-stale");
    }
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(run, delay);
  }

  input.addEventListener("input", () => schedule(TYPING_PAUSE_MS));
  for (const id of ["model-select", "thinking-select"]) {
    const select = $(id);
    if (select) select.addEventListener("change", () => schedule(50));
  }
  const tray = $("attachment-tray");
  if (tray) {
    // The tray is redrawn when a file is added, finishes uploading or is removed.
    new MutationObserver(() => schedule(50)).observe(tray, { childList: true, subtree: true, attributes: true });
  }
  document.addEventListener("chatapp:reply-finished", () => schedule(50));
}

startEstimates();
