// ESLint 9 flat config for the demo's assets; the rules are inline so no extra config package is needed.
const rules = {
  // Likely bugs.
  "no-undef": "error",
  "no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
  "no-dupe-keys": "error",
  "no-unreachable": "error",
  "no-constant-condition": "error",
  "no-self-compare": "error",
  "use-isnan": "error",
  "valid-typeof": "error",
  eqeqeq: ["error", "always"],
  // Style that keeps the code close to the house style of the Elixir side.
  "prefer-const": "error",
  "no-var": "error",
  curly: ["error", "multi-line"],
};

export default [
  {
    files: ["js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      // Listed by hand because the `globals` package would be one more dependency.
      globals: { document: "readonly", window: "readonly", console: "readonly" },
    },
    rules,
  },
  {
    files: ["test/**/*.js", "eslint.config.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { process: "readonly", console: "readonly" },
    },
    rules,
  },
];
