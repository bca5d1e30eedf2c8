/* chatapp lib — JSON helpers.
 *
 * An ES module: the pages import from it what they use.
 */

/** The value Django's json_script put in the element with this id; `fallback` when the
 * element is missing or does not hold JSON. */
export function readJson(id, fallback = null) {
  const node = document.getElementById(id);
  if (!node) return fallback;
  try {
    return JSON.parse(node.textContent);
  } catch (_err) {
    return fallback;
  }
}
