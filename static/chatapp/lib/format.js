/* chatapp lib — numbers as the pages show them (amounts of money: lib/money.js).
 *
 * An ES module: the pages import from it what they use.
 */

const intFormat = new Intl.NumberFormat("en-US");

/** 48210 -> "48,210"; anything not a number -> "0". Token counts, pages, pixels. */
export function formatInt(n) {
  return intFormat.format(Number(n) || 0);
}

/** A file's size: 512 -> "512 B", 2048 -> "2.0 KB", 52428800 -> "50.0 MB". */
export function formatBytes(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return formatInt(n) + " B";
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10 * 1024 ? 1 : 0) + " KB";
  return (n / (1024 * 1024)).toFixed(1) + " MB";
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
