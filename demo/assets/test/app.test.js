// Tests for js/app.js and js/slug.js, using tiny DOM stand-ins so no browser is needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { renderPrices, previewSlugs } from "../js/app.js";
import { slugify } from "../js/slug.js";

test("slugify matches Demo.Slug on the server", () => {
  assert.equal(slugify("  Crème Brûlée & Co. "), "creme-brulee-co");
  assert.equal(slugify("---"), "");
  assert.ok(slugify("ab ".repeat(40)).length <= 60);
});

test("renderPrices formats every price element", () => {
  const el = { dataset: { priceCents: "1250" }, textContent: "" };
  renderPrices({ querySelectorAll: () => [el] });
  assert.equal(el.textContent, "$12.50");
});

test("previewSlugs updates the preview on input", () => {
  const preview = { textContent: "" };
  const listeners = {};
  const input = {
    value: "Green Tea",
    dataset: { slugTarget: "#slug" },
    addEventListener: (name, fn) => (listeners[name] = fn),
  };
  previewSlugs({ querySelectorAll: () => [input], querySelector: () => preview });
  listeners.input();
  assert.equal(preview.textContent, "green-tea");
});
