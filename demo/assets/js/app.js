// Browser entry point that esbuild bundles into priv/static/assets/app.js.
import { formatCents } from "./money.js";
import { slugify } from "./slug.js";

/**
 * Renders every `data-price-cents` element as a formatted price, so the
 * server can send raw integers and the page shows "$12.50".
 * @param {ParentNode} root
 */
export function renderPrices(root) {
  for (const el of root.querySelectorAll("[data-price-cents]")) {
    el.textContent = formatCents(Number(el.dataset.priceCents));
  }
}

/**
 * Keeps a slug preview in step with a name input, as the product form does.
 * @param {ParentNode} root
 */
export function previewSlugs(root) {
  for (const input of root.querySelectorAll("input[data-slug-target]")) {
    const target = root.querySelector(input.dataset.slugTarget);
    if (!target) continue;
    input.addEventListener("input", () => {
      target.textContent = slugify(input.value);
    });
  }
}

// Only wire the page up in a browser: the tests import this module in Node.
if (typeof document !== "undefined") {
  document.addEventListener("DOMContentLoaded", () => {
    renderPrices(document);
    previewSlugs(document);
  });
}
