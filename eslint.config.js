// The JS linter (`make lint`): ESLint's recommended rules, which look for real mistakes
// (undefined names, unused variables, unreachable code), not for style.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", ".venv/", "static/vendor/", "var/", "build/", "test-results/"] },
  js.configs.recommended,
  {
    // A name starting with "_" is unused on purpose (a `catch (_err)` that only falls back).
    rules: { "no-unused-vars": ["error", { argsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" }] },
  },
  {
    // The pages' scripts: ES modules that import one another, plus the vendored libraries
    // the templates load (as classic scripts) before them.
    files: ["static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser, marked: "readonly", DOMPurify: "readonly", hljs: "readonly" },
    },
  },
  {
    files: ["scripts/**/*.mjs", "tests/**/*.mjs", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node } },
  },
];
