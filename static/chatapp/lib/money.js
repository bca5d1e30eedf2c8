/* chatapp lib — money. The server sends amounts as decimal strings ("0.00375"); the page
 * counts them in whole pico-dollars (BigInt, exact for every price in the catalogue), never
 * in floats, and shows every amount by one rounding rule (formatCost).
 *
 * An ES module: the pages import from it what they use.
 */

const PICO_DIGITS = 12;
const TEN = BigInt(10);

/** "0.0112", 0.3, "1e-7" -> pico-dollars (BigInt, rounded half up past 12 decimals);
 * null, "" or anything not a number -> null. */
export function toPico(value) {
  if (typeof value === "bigint") return value;
  if (value === null || value === undefined || value === "") return null;
  const match = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(String(value).trim());
  if (!match || !(match[2] || match[3])) return null;
  const digits = BigInt((match[2] || "") + (match[3] || "") || "0");
  const scale = (match[3] || "").length - Number(match[4] || 0); // value = digits × 10^-scale
  let pico;
  if (scale <= PICO_DIGITS) pico = digits * TEN ** BigInt(PICO_DIGITS - scale);
  else {
    const drop = TEN ** BigInt(scale - PICO_DIGITS);
    pico = (digits + drop / BigInt(2)) / drop;
  }
  return match[1] === "-" ? -pico : pico;
}

/** Pico-dollars rounded half up to `decimals` decimal places, as "1,234.5600". */
function picoDecimal(pico, decimals) {
  const unit = TEN ** BigInt(PICO_DIGITS - decimals);
  const digits = ((pico + unit / BigInt(2)) / unit).toString().padStart(decimals + 1, "0");
  const whole = BigInt(digits.slice(0, -decimals)).toLocaleString("en-US");
  return whole + "." + digits.slice(-decimals);
}

const CENT_PRECISION_FROM = TEN ** BigInt(PICO_DIGITS); // $1
const SMALLEST_SHOWN = TEN ** BigInt(PICO_DIGITS - 4); // $0.0001

/** Every amount on the page: under $1 to four decimals ("$0.0036", "$0.0100"), from $1 to
 * cents ("$12.40"); "<$0.0001" for less than that but not nothing; null -> "unpriced". */
export function formatCost(cost) {
  const pico = toPico(cost);
  if (pico === null) return "unpriced";
  if (pico === BigInt(0)) return "$0.00";
  const sign = pico < 0 ? "-" : "";
  const size = pico < 0 ? -pico : pico;
  if (size < SMALLEST_SHOWN / BigInt(2)) return sign + "<$0.0001";
  const fourPlaces = picoDecimal(size, 4);
  if (size < CENT_PRECISION_FROM && !fourPlaces.startsWith("1.")) return sign + "$" + fourPlaces;
  return sign + "$" + picoDecimal(size, 2);
}
