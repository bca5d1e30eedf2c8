/* chatapp lib — DOM helpers: elements and the line icons drawn in SVG.
 *
 * An ES module: the pages import from it what they use.
 */

/** The element with this id (null when the page has none). */
export const $ = (id) => document.getElementById(id);

/** A DOM element. attrs are attributes (true: present, null/undefined/false: left out),
 * except `class`, `text` (the text content) and on<event> handlers; null, undefined and
 * false children are left out. Text is always set as text, never as HTML. */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** A line icon (24×24 path data), hidden from assistive technology: the control it sits in
 * carries the words. Its classes are "icon" and `className`. */
export function icon(pathData, className) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", className ? "icon " + className : "icon");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", pathData);
  svg.append(path);
  return svg;
}
