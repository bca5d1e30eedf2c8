/* chatapp lib — numbers as the pages show them (amounts of money: lib/money.js).
 *
 * An ES module: the pages import from it what they use.
 */

const intFormat = new Intl.NumberFormat("en-US");

/** 48210 -> "48,210"; anything not a number -> "0". Token counts, pages, pixels. */
export function formatInt(n) {
  return intFormat.format(Number(n) || 0);
}

/** Input tokens of a reply's usage, cache reads and writes included. */
export function inputTokens(usage) {
  if (!usage) return 0;
  return (
    (Number(usage.input_tokens) || 0) +
    (Number(usage.cache_read_tokens) || 0) +
    (Number(usage.cache_write_5m_tokens) || 0) +
    (Number(usage.cache_write_1h_tokens) || 0)
  );
}
