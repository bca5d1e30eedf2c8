/* chatapp lib — numbers as the pages show them (amounts of money: lib/money.js).
 *
 * Classic script, loaded before the pages' scripts: attaches ChatApp.lib.format.
 */
(function () {
  "use strict";

  const lib = ((window.ChatApp = window.ChatApp || {}).lib = window.ChatApp.lib || {});

  const intFormat = new Intl.NumberFormat("en-US");

  /** 48210 -> "48,210"; anything not a number -> "0". Token counts, pages, pixels. */
  function formatInt(n) {
    return intFormat.format(Number(n) || 0);
  }

  /** Input tokens of a reply's usage, cache reads and writes included. */
  function inputTokens(usage) {
    if (!usage) return 0;
    return (
      (Number(usage.input_tokens) || 0) +
      (Number(usage.cache_read_tokens) || 0) +
      (Number(usage.cache_write_5m_tokens) || 0) +
      (Number(usage.cache_write_1h_tokens) || 0)
    );
  }

  lib.format = { formatInt, inputTokens };
})();
