// Money on the screen is integer cents (BigInt) or the API's decimal strings: never a
// float. Numbers from JSON are only turned into BigInt when they are safe integers.

export function toCents(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "object") value = value.cents;  // the API's {cents, amount}
  if (typeof value === "bigint") return value;
  if (!Number.isSafeInteger(value)) throw new Error(`not integer cents: ${value}`);
  return BigInt(value);
}

function group(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// 1234567n -> "12,345.67"; null -> "—"
export function formatCents(value) {
  const c = toCents(value);
  if (c === null) return "—";
  const abs = c < 0n ? -c : c;
  return `${c < 0n ? "-" : ""}${group((abs / 100n).toString())}.${(abs % 100n).toString().padStart(2, "0")}`;
}

// The API's decimal string ("-1234.50"), grouped for reading; the digits are untouched.
export function formatAmount(money) {
  if (money === null || money === undefined) return "—";
  const text = typeof money === "object" ? money.amount : String(money);
  const m = /^(-?)(\d+)(\.\d+)?$/.exec(text);
  return m ? `${m[1]}${group(m[2])}${m[3] || ""}` : text;
}

// "100", "100.5", "100.25" -> cents as BigInt; anything else (or a fraction of a cent) -> null
export function parsePrice(text) {
  const m = /^\s*(\d{1,13})(?:\.(\d{1,2}))?\s*$/.exec(text || "");
  if (!m) return null;
  return BigInt(m[1]) * 100n + BigInt((m[2] || "").padEnd(2, "0"));
}

// whole shares only
export function parseQuantity(text) {
  const m = /^\s*(\d{1,12})\s*$/.exec(text || "");
  return m ? Number(m[1]) : null;
}

// for JSON bodies: the API takes integer cents; BigInt cannot be serialised directly
export function centsForJson(c) {
  if (c > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("price too large");
  return Number(c);
}

export function sign(value) {
  const c = toCents(value);
  return c === null || c === 0n ? 0 : (c > 0n ? 1 : -1);
}
