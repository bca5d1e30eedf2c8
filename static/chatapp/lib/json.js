/* chatapp lib — JSON helpers.
 *
 * Classic script, loaded before the pages' scripts: attaches ChatApp.lib.json.
 */
(function () {
  "use strict";

  const lib = ((window.ChatApp = window.ChatApp || {}).lib = window.ChatApp.lib || {});

  /** The value Django's json_script put in the element with this id; `fallback` when the
   * element is missing or does not hold JSON. */
  function readJson(id, fallback = null) {
    const node = document.getElementById(id);
    if (!node) return fallback;
    try {
      return JSON.parse(node.textContent);
    } catch (_err) {
      return fallback;
    }
  }

  lib.json = { readJson };
})();
