// Formats integer cents the same way Demo.Catalog.format/2 does on the server.

/**
 * Formats an amount of cents as a price such as "$1,234.50" or "-$0.05".
 * Cents stay integers, as on the server, so no float rounding creeps in.
 * @param {number} cents
 * @param {string} [symbol]
 * @returns {string}
 */
export function formatCents(cents, symbol = "$") {
  if (!Number.isSafeInteger(cents)) {
    throw new TypeError(`expected integer cents, got ${cents}`);
  }
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  const units = String(Math.trunc(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const rest = String(abs % 100).padStart(2, "0");
  return `${sign}${symbol}${units}.${rest}`;
}

/**
 * Sums cart lines of `{ priceCents, quantity }`.
 * @param {{ priceCents: number, quantity: number }[]} lines
 * @returns {number}
 */
export function subtotal(lines) {
  return lines.reduce((sum, line) => sum + line.priceCents * line.quantity, 0);
}
