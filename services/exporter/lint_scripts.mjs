// Syntax check of JavaScript / TypeScript / TSX sources: ESLint's Linter with no rules (parse errors
// only; typescript-eslint's parser for TS/TSX), plus the TypeScript compiler's own syntax diagnostics,
// which typescript-estree forgives without a type-checked project (`let x: = 3` parses there).
// stdin: JSON [{"name": str, "language": "javascript"|"typescript"|"tsx", "text": str}]
// stdout: JSON {name: [{"line": int, "column": int, "message": str}]}
// argv[2]: the node_modules folder holding eslint, typescript-eslint, typescript (make node-deps: .tools/node).
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(path.resolve(process.argv[2]), "noop.js"));
const { Linter } = require("eslint");
const tseslint = require("typescript-eslint");
const ts = require("typescript");

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const files = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const linter = new Linter({ configType: "flat" });
const base = { ecmaVersion: "latest", sourceType: "module" };
const jsx = { ecmaFeatures: { jsx: true } };
const configs = {
  javascript: [{ files: ["**/*"], languageOptions: { ...base, parserOptions: jsx } }],
  typescript: [{ files: ["**/*"], languageOptions: { ...base, parser: tseslint.parser } }],
  tsx: [{ files: ["**/*"], languageOptions: { ...base, parser: tseslint.parser, parserOptions: jsx } }],
};
const kinds = { typescript: ts.ScriptKind.TS, tsx: ts.ScriptKind.TSX };
const out = {};
for (const file of files) {
  const config = configs[file.language] || configs.javascript;
  const found = linter.verify(file.text, config, { filename: file.name })
    .filter((m) => m.fatal || m.severity === 2)
    .map((m) => ({ line: m.line || 0, column: m.column || 0, message: m.message }));
  if (found.length === 0 && kinds[file.language] !== undefined) {
    const source = ts.createSourceFile(file.name, file.text, ts.ScriptTarget.Latest, true, kinds[file.language]);
    for (const d of source.parseDiagnostics || []) {
      const at = source.getLineAndCharacterOfPosition(d.start || 0);
      found.push({ line: at.line + 1, column: at.character + 1,
                   message: `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}` });
    }
  }
  out[file.name] = found;
}
process.stdout.write(JSON.stringify(out));
