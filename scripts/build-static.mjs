#!/usr/bin/env node
// Copies the browser files the chat page needs from node_modules into static/vendor/.
// static/vendor/ is generated (git-ignored); run `npm ci && npm run build` to recreate it.
// No bundler: the page loads these as classic scripts / stylesheets from our own origin.
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const nm = join(root, "node_modules");
const out = join(root, "static", "vendor");

// [source relative to node_modules, destination relative to static/vendor]
// Source maps are copied too: the scripts reference them, and Django's manifest storage
// (collectstatic) fails on a sourceMappingURL that points at a missing file.
const files = [
  ["marked/lib/marked.umd.js", "marked/marked.umd.js"],
  ["marked/lib/marked.umd.js.map", "marked/marked.umd.js.map"],
  ["marked/LICENSE", "marked/LICENSE"],
  ["dompurify/dist/purify.min.js", "dompurify/purify.min.js"],
  ["dompurify/dist/purify.min.js.map", "dompurify/purify.min.js.map"],
  ["dompurify/LICENSE", "dompurify/LICENSE"],
  ["@highlightjs/cdn-assets/highlight.min.js", "highlight/highlight.min.js"],
  ["@highlightjs/cdn-assets/styles/github.min.css", "highlight/styles/github.min.css"],
  ["@highlightjs/cdn-assets/styles/github-dark.min.css", "highlight/styles/github-dark.min.css"],
  ["@highlightjs/cdn-assets/LICENSE", "highlight/LICENSE"],
];

const missing = files.filter(([src]) => !existsSync(join(nm, src)));
if (missing.length) {
  console.error("build-static: missing in node_modules (run `npm ci` first):");
  for (const [src] of missing) console.error("  " + src);
  process.exit(1);
}

rmSync(out, { recursive: true, force: true });
for (const [src, dest] of files) {
  const target = join(out, dest);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(join(nm, src), target);
}
console.log(`build-static: copied ${files.length} files into ${out}`);
