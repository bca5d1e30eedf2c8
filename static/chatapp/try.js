/* "Things to try" on an empty chat: a click fills the composer with the suggestion (and, where
 * the suggestion says so, picks Auto, turns thinking on or opens the file picker), so a new user
 * sees documents, images, thinking, tools and Auto without reading the docs. Nothing is sent:
 * the user reads the question first and presses Enter. */

import { $ } from "./lib/dom.js";

function choose(select, value) {
  if (!select || !value) return;
  const values = Array.from(select.options, (option) => option.value);
  // The thinking levels differ per model: the one asked for, else the deepest offered.
  const chosen = values.includes(value) ? value : values.filter((v) => v !== "off").pop();
  if (!chosen || select.value === chosen) return;
  select.value = chosen;
  // The chat page reacts to a change as to the user's own (Auto's choices, the estimate).
  select.dispatchEvent(new Event("change", { bubbles: true }));
}

function fill(button) {
  const input = $("composer-input");
  choose($("model-select"), button.dataset.model);
  choose($("thinking-select"), button.dataset.thinking);
  input.value = button.dataset.prompt || "";
  input.dispatchEvent(new Event("input", { bubbles: true })); // grows the box, enables Send
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  if (button.dataset.attach !== undefined) $("attach-btn").click();
}

const list = $("things-to-try");
if (list) {
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-prompt]");
    if (button) fill(button);
  });
}
