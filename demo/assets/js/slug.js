// Builds URL slugs in the browser with the same rules as Demo.Slug.slugify/1.

const MAX_LENGTH = 60;

/**
 * Converts text to a lowercase, dash-separated ASCII slug, dropping accents
 * but keeping their base letters ("Crème" becomes "creme").
 * @param {string} text
 * @returns {string}
 */
export function slugify(text) {
  return text
    .normalize("NFD")
    .replace(/\p{Mn}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, MAX_LENGTH)
    .replace(/^-+|-+$/g, "");
}
