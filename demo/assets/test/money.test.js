// Tests for js/money.js, run with `node --test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatCents, subtotal } from "../js/money.js";

test("formatCents groups thousands and keeps the sign", () => {
  assert.equal(formatCents(123456789), "$1,234,567.89");
  assert.equal(formatCents(-5), "-$0.05");
  assert.equal(formatCents(100, "€"), "€1.00");
});

test("formatCents refuses floats", () => {
  assert.throws(() => formatCents(1.5), TypeError);
});

test("subtotal multiplies and sums the lines", () => {
  assert.equal(subtotal([{ priceCents: 450, quantity: 3 }, { priceCents: 2999, quantity: 1 }]), 4349);
  assert.equal(subtotal([]), 0);
});
