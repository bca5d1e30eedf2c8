/* chatapp chat page — what the reader is told in passing: toasts, screen-reader
 * announcements, the banner above the conversation, the header and tab titles. */

import { h } from "../lib/dom.js";
import { el } from "./state.js";

function announce(text) {
  // Clear first so the same words are announced again.
  el.announcer.textContent = "";
  window.setTimeout(() => {
    el.announcer.textContent = text;
  }, 50);
}

/** A passing message; `action` ({label, run}) adds a button, e.g. Undo. */
function toast(text, kind, action) {
  const node = h("div", { class: "toast" + (kind ? " toast-" + kind : ""), role: kind === "error" ? "alert" : "status" });
  node.append(h("span", { class: "toast-text", text }));
  if (action) {
    const button = h("button", { type: "button", class: "link-btn toast-action" }, action.label);
    button.addEventListener("click", () => {
      node.remove();
      action.run();
    });
    node.append(button);
  }
  const close = h("button", { type: "button", class: "toast-close", "aria-label": "Dismiss" }, "×");
  close.addEventListener("click", () => node.remove());
  node.append(close);
  el.toasts.append(node);
  window.setTimeout(() => node.remove(), kind === "error" ? 10000 : 5000);
}

function showBanner(text, link) {
  el.banner.replaceChildren(h("span", { text }));
  if (link) {
    el.banner.append(" ", h("a", { href: link.href, text: link.text }));
  }
  el.banner.hidden = false;
}

function hideBanner() {
  el.banner.hidden = true;
  el.banner.replaceChildren();
}

function loginHref() {
  return "/accounts/login/?next=" + encodeURIComponent(window.location.pathname);
}

function setTitle(text) {
  el.title.textContent = text;
  // A background tab's "● Reply ready — " (comforts.js) outlives a title that comes later.
  const mark = /^● Reply (ready|ended) — /.exec(document.title);
  document.title = (mark && document.hidden ? mark[0] : "") + text + " — chatapp";
}

/** Toasts rise above the composer, however tall it grows (attachments, a long message). */
function keepToastsClearOfComposer() {
  const wrap = el.composer.closest(".composer-wrap") || el.composer;
  const update = () => {
    const clearance = Math.max(0, window.innerHeight - wrap.getBoundingClientRect().top);
    document.documentElement.style.setProperty("--composer-clearance", Math.round(clearance) + "px");
  };
  new ResizeObserver(update).observe(wrap);
  window.addEventListener("resize", update);
  update();
}

function flashButton(button, text) {
  const original = button.textContent;
  button.textContent = text;
  window.setTimeout(() => {
    if (button.isConnected) button.textContent = original;
  }, 1500);
}

export {
  announce, toast, showBanner, hideBanner, loginHref, setTitle, keepToastsClearOfComposer,
  flashButton,
};
