/* chatapp — safe markdown rendering and small formatters.
 *
 * The pipeline for every assistant reply, re-run from the reply's accumulated text at most once
 * per animation frame while it streams:
 *
 *   text --marked (raw HTML escaped to text, links/images checked, code highlighted)-->
 *   HTML string --DOMPurify (allow-list, no javascript: URLs, rel=noopener on links)-->
 *   innerHTML --> copy buttons added to code blocks with DOM calls.
 *
 * Model output is never trusted: even if marked let something through, DOMPurify removes it.
 */

import { h } from "./lib/dom.js";
import { formatInt, inputTokens } from "./lib/format.js";
// Money: lib/money.js (one rule for every amount on the page).
import { formatCost, toPico } from "./lib/money.js";

// The vendored libraries: classic scripts the template loads (deferred) before the modules.
const { marked, DOMPurify, hljs } = window;

function escapeHtml(text) {
  return String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

// A local path starts with one slash; "//host" is another site (protocol-relative).
const SAFE_URL = /^(?:https?:|mailto:|#|\/(?!\/))/i;

function safeHref(href) {
  if (typeof href !== "string") return null;
  const trimmed = href.trim();
  // Judge the URL as the browser will read it: characters it ignores inside a scheme
  // ("java\tscript:") are dropped, and a backslash is a slash in http(s) URLs, so
  // "/\evil.example" is "//evil.example", another site, not a local path.
  // eslint-disable-next-line no-control-regex -- control characters are what is dropped
  const squashed = trimmed.replace(/[\u0000-\u0020\u007f-\u009f]/g, "").replace(/\\/g, "/");
  return SAFE_URL.test(squashed) ? trimmed : null;
}

function languageOf(info) {
  const first = String(info || "").trim().split(/\s+/)[0] || "";
  return /^[\w+#.-]{1,32}$/.test(first) ? first.toLowerCase() : "";
}

function highlight(code, lang) {
  if (!hljs) return escapeHtml(code);
  try {
    if (lang && hljs.getLanguage(lang)) {
      return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
    }
  } catch (_err) {
    /* fall through to plain text */
  }
  return escapeHtml(code);
}

const md = new marked.Marked({ gfm: true, breaks: false, async: false });
md.use({
  renderer: {
    // Raw HTML written by the model is shown as the characters it typed, never parsed.
    html(token) {
      const text = escapeHtml(token.text);
      if (token.block) return "<p>" + text.replace(/\n+$/, "").replace(/\n/g, "<br>") + "</p>\n";
      return text;
    },
    code(token) {
      const lang = languageOf(token.lang);
      const code = token.text.replace(/\n$/, "");
      const label = lang || "text";
      return (
        '<div class="code-block" data-lang="' + escapeHtml(label) + '">' +
        '<div class="code-head"><span class="code-lang">' + escapeHtml(label) + "</span></div>" +
        '<pre><code class="hljs' + (lang ? " language-" + escapeHtml(lang) : "") + '">' +
        highlight(code, lang) +
        "</code></pre></div>\n"
      );
    },
    link(token) {
      const inner = this.parser.parseInline(token.tokens);
      const href = safeHref(token.href);
      if (href === null) return inner;
      const title = token.title ? ' title="' + escapeHtml(token.title) + '"' : "";
      return '<a href="' + escapeHtml(href) + '"' + title + ">" + inner + "</a>";
    },
    // Remote images are not loaded (privacy, and the CSP allows only our origin): link them.
    image(token) {
      const href = safeHref(token.href);
      const alt = token.text || token.href || "image";
      if (href === null) return escapeHtml(alt);
      return '<a class="md-image-link" href="' + escapeHtml(href) + '">' + escapeHtml("[image: " + alt + "]") + "</a>";
    },
  },
});

const PURIFY_CONFIG = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ["style", "form", "button", "textarea", "select", "option", "img", "svg", "math",
    "iframe", "object", "embed", "video", "audio", "source", "link", "meta", "base"],
  FORBID_ATTR: ["style", "id", "name", "srcset", "formaction"],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
};

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    if (node.hasAttribute("href")) {
      const href = safeHref(node.getAttribute("href"));
      if (href === null) node.removeAttribute("href");
    }
    if (node.hasAttribute("href")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    }
  } else if (node.tagName === "INPUT") {
    // GFM task lists: the checkbox is for show only.
    node.setAttribute("disabled", "");
  }
});

/** Markdown text -> sanitised HTML string. */
function markdownToSafeHtml(text) {
  let html;
  try {
    html = md.parse(String(text || ""));
  } catch (_err) {
    html = "<p>" + escapeHtml(text) + "</p>";
  }
  return DOMPurify.sanitize(html, PURIFY_CONFIG);
}

function addCopyButtons(root) {
  for (const block of root.querySelectorAll(".code-block")) {
    const head = block.querySelector(".code-head");
    if (!head || head.querySelector(".copy-code")) continue;
    head.append(h("button", { type: "button", class: "copy-code", "aria-label": "Copy code", text: "Copy" }));
    // A long line scrolls sideways: keyboard users must be able to scroll it too.
    const code = block.querySelector("pre code");
    if (code) code.tabIndex = 0;
  }
}

/** Render `text` as markdown into `el` (replacing what was there). */
function renderMarkdown(el, text) {
  el.innerHTML = markdownToSafeHtml(text);
  addCopyButtons(el);
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (_err) {
      /* fall back below */
    }
  }
  const area = h("textarea", { readonly: true, class: "offscreen" });
  area.value = text;
  document.body.appendChild(area);
  area.select();
  let ok;
  try {
    ok = document.execCommand("copy");
  } catch (_err) {
    ok = false;
  }
  area.remove();
  return ok;
}

// --- formatters ----------------------------------------------------------------------

/** "claude-sonnet-4-6 · 1,234 in · 256 out · $0.0123" */
function formatFooter(msg) {
  const parts = [];
  if (msg.model) parts.push(msg.model);
  if (msg.usage) {
    parts.push(formatInt(inputTokens(msg.usage)) + " in");
    parts.push(formatInt(msg.usage.output_tokens) + " out");
  }
  // A reply whose process died is billed from its last checkpoint (chatapp/checkpoints.py).
  const estimated = Boolean(msg.options && msg.options.cost_estimated) && msg.cost_usd != null;
  parts.push(estimated ? "≈" + formatCost(msg.cost_usd) + " (estimate)" : formatCost(msg.cost_usd));
  return parts.join(" · ");
}

function usageDetails(usage) {
  if (!usage) return "";
  return [
    "Input: " + formatInt(usage.input_tokens),
    "Cache read: " + formatInt(usage.cache_read_tokens),
    "Cache write (5 min): " + formatInt(usage.cache_write_5m_tokens),
    "Cache write (1 h): " + formatInt(usage.cache_write_1h_tokens),
    "Output: " + formatInt(usage.output_tokens),
  ].join("\n");
}

const ERROR_WORDS = {
  upstream_unreachable: "Couldn't reach Claude's service.",
  upstream_error: "Claude's service returned an error.",
  rate_limited: "Claude is getting too many requests right now.",
  overloaded: "Claude is overloaded right now.",
  invalid_request: "Claude's service rejected this request.",
  authentication: "The server's API key for Claude was not accepted. Ask your administrator.",
  refusal: "Claude declined to continue this reply.",
  context_too_long: "This conversation is too long for the model. Start a new chat to go on.",
  budget_exceeded: "The spending limit has been reached.",
  busy: "Claude is still replying in this conversation. Wait for it to finish or press Stop.",
  not_found: "That message was not found in this conversation.",
  bad_frame: "The server did not understand that request.",
  interrupted: "This reply was interrupted because the server restarted.",
};

/** {code, message} -> {headline, detail} in plain words. */
function describeError(error, status) {
  const code = error && error.code;
  const message = error && typeof error.message === "string" ? error.message.trim() : "";
  let headline = ERROR_WORDS[code] || (status === "interrupted" ? ERROR_WORDS.interrupted : "");
  if (!headline) headline = message || "Something went wrong with this reply.";
  // The server's message often says the headline again, with more: say it once.
  const stem = headline.replace(/[.!]\s*$/, "");
  if (message.startsWith(stem) && message.length > headline.length) return { headline: message, detail: "" };
  const detail = message && !headline.includes(message) ? message : "";
  return { headline, detail };
}

const FLAG_ACTIONS = { redact: " (redacted)", withhold: " (the reply was withheld)" };

/**
 * A reply's content-check flags -> {badge, detail}, or null when there are none.
 * badge: "Flagged: personal data"; detail: what was found and what was done, for the hover.
 */
function describeFlags(flags) {
  if (!Array.isArray(flags) || flags.length === 0) return null;
  const categories = [];
  const found = [];
  for (const flag of flags) {
    const category = String(flag.category_label || flag.category || "").toLowerCase();
    if (category && !categories.includes(category)) categories.push(category);
    const count = Number(flag.count) > 1 ? " (" + Number(flag.count) + "×)" : "";
    found.push(String(flag.explanation || flag.label || flag.kind) + count + (FLAG_ACTIONS[flag.action] || ""));
  }
  return {
    badge: "Flagged: " + categories.join(", "),
    detail: "This reply contains " + found.join("; ") + ". Found by automatic checks, which can be wrong.",
  };
}

// --- citations ---------------------------------------------------------------------------
//
// A reply that cites its documents arrives as text blocks, some carrying `citations`. The
// blocks' text is joined and rendered as markdown like any reply, with a private-use marker
// after each cited block; the sanitised HTML's text nodes are then searched for the markers,
// which become "[n]" buttons built with DOM calls. Below the reply, each source is a
// <details> (quoted passage and page or location), opened by its button. Cited text is only
// ever set as textContent.

const CITE_OPEN = "\uE000";
const CITE_CLOSE = "\uE001";
const CITE_MARK = /\uE000(\d+)\uE001/g;

function hasCitations(blocks) {
  return Array.isArray(blocks) && blocks.some((b) => b && Array.isArray(b.citations) && b.citations.length);
}

function citationPlace(citation) {
  const number = (n) => formatInt(n);
  if (citation.type === "page_location") {
    const last = Number(citation.end_page_number) - 1;
    return last > Number(citation.start_page_number)
      ? "pages " + number(citation.start_page_number) + "–" + number(last)
      : "page " + number(citation.start_page_number);
  }
  if (citation.type === "char_location") {
    return "characters " + number(citation.start_char_index) + "–" + number(citation.end_char_index);
  }
  if (citation.type === "content_block_location") {
    return "part " + number(Number(citation.start_block_index) + 1);
  }
  return "";
}

function citationSource(citation) {
  const title = citation.document_title || "Document " + (Number(citation.document_index) + 1);
  const place = citationPlace(citation);
  return place ? title + ", " + place : title;
}

function markersToButtons(root, count, open) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const hits = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.nodeValue.includes(CITE_OPEN)) hits.push(node);
  }
  for (const node of hits) {
    const parts = [];
    let last = 0;
    for (const match of node.nodeValue.matchAll(CITE_MARK)) {
      parts.push(document.createTextNode(node.nodeValue.slice(last, match.index)));
      const n = Number(match[1]);
      if (n >= 1 && n <= count) {
        parts.push(h("sup", null, h("button", { type: "button", class: "cite-ref", "aria-label": "Source " + n,
          text: "[" + n + "]", onclick: () => open(n) })));
      }
      last = match.index + match[0].length;
    }
    parts.push(document.createTextNode(node.nodeValue.slice(last)));
    node.replaceWith(...parts);
  }
}

function sourcesList(citations) {
  return h("ol", { class: "cite-sources", "aria-label": "Sources" }, ...citations.map((citation, index) =>
    h("li", null, h("details", { class: "cite-source" },
      h("summary", { text: "[" + (index + 1) + "] " + citationSource(citation) }),
      h("blockquote", { text: String(citation.cited_text || "") })))));
}

/** Render a finished reply's content blocks: markdown, "[n]" marks and its sources. */
function renderReply(el, blocks) {
  const citations = [];
  let text = "";
  for (const block of blocks) {
    if (!block || block.type !== "text") continue;
    // The markers' own characters must not come from the model.
    text += String(block.text || "").replace(/[\uE000\uE001]/g, "");
    for (const citation of Array.isArray(block.citations) ? block.citations : []) {
      citations.push(citation);
      text += CITE_OPEN + citations.length + CITE_CLOSE;
    }
  }
  renderMarkdown(el, text);
  if (!citations.length) return;
  const list = sourcesList(citations);
  markersToButtons(el, citations.length, (n) => {
    const details = list.children[n - 1].querySelector("details");
    details.open = true;
    details.querySelector("summary").focus();
  });
  el.append(list);
}

// --- cache and sizes ---------------------------------------------------------------------

/** "48,210 of 48,900 input tokens read from cache · caching saved $0.13", or "" if none. */
function cacheLine(usage, saved) {
  if (!usage) return "";
  const read = Number(usage.cache_read_tokens) || 0;
  const written = (Number(usage.cache_write_5m_tokens) || 0) + (Number(usage.cache_write_1h_tokens) || 0);
  const savedPico = toPico(saved) || BigInt(0); // exact: amounts are never floats here
  if (read > 0) {
    const line = formatInt(read) + " of " + formatInt(inputTokens(usage)) + " input tokens read from cache";
    return savedPico > 0 ? line + " · caching saved " + formatCost(savedPico) : line;
  }
  if (written > 0) {
    const line = formatInt(written) + " input tokens written to the cache for the next questions";
    return savedPico < 0 ? line + " (" + formatCost(-savedPico) + " extra now)" : line;
  }
  return "";
}

export {
  cacheLine,
  citationSource,
  hasCitations,
  renderReply,
  describeFlags,
  escapeHtml,
  markdownToSafeHtml,
  renderMarkdown,
  copyText,
  formatFooter,
  usageDetails,
  describeError,
};
