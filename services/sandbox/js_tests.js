// The JavaScript/TypeScript test runtime that runs inside the commentslab sandbox.
//
// The program the sandbox runs is this file preceded by one line, `const PAYLOAD = {...};`, built by
// services/sandbox/js_program.py: the files of one problem (the module under test with the model's
// completion in place of the original body, the test files, the local modules they import) and which
// of them are test files. This runtime
//
// 1. writes the files under ./src and transpiles every script among them with esbuild (TypeScript,
//    JSX, ES modules -> CommonJS, no bundling), into ./out, so Node's own module loader runs them;
// 2. gives the test files Jest's API (describe/it/test, hooks, expect from Jest's own `expect`
//    package, jest.fn and jest.spyOn from `jest-mock`) as globals and as `@jest/globals`, and
//    `node:test`'s API (test/describe/it, hooks, the test context, mock.fn) from the same runner;
//    module mocks (jest.mock with or without a factory, jest.requireActual, doMock, unmock,
//    resetModules), with top-level jest.mock calls hoisted above the imports as
//    babel-plugin-jest-hoist does (see hoistJestCalls), and fake timers (jest.useFakeTimers over Jest's
//    own @jest/fake-timers, node:test's mock.timers over @sinonjs/fake-timers);
// 3. mounts a jsdom document as the global environment when a test file asks for the DOM (a
//    `@jest-environment jsdom` docblock, a .jsx/.tsx test, or an import of @testing-library);
// 4. runs every test and sets the exit status: 0 only when at least one test ran, every test passed
//    and every test asserted something (a matcher, an `assert` call, or a node:test plan).
//
// The sandbox's pass sentinel is written when the event loop drains (see execute.py); until this
// runtime has finished with every test passing the exit status stays 1, so a suite cut short by
// process.exit, a promise that never settles, or an exception outside a test cannot pass.
"use strict";

const fs = require("fs");
const path = require("path");
const Module = require("module");
const childProcess = require("child_process");

// The runner's own timers, taken before a test can replace them with fake ones: its time limits and
// its wait for a test's last callbacks must keep real time whatever the test does.
const REAL = Object.freeze({ setTimeout, clearTimeout, setImmediate, Date });

const HERE = process.cwd();
const SOURCES = path.join(HERE, "src");
const BUILT = path.join(HERE, "out");
const SCRIPT = /\.(?:js|jsx|ts|tsx|mjs|cjs|mts|cts)$/;
const TEST_TIMEOUT_MS = 5000;

process.exitCode = 1;
let finished = false;
process.on("beforeExit", () => {
  if (!finished) {
    process.exitCode = 1;
    console.error("commentslab: the test run never finished (a test's promise never settled)");
  }
});

function fail(message) {
  console.error(`commentslab: ${message}`);
  finished = true;
  process.exitCode = 1;
}

// ---- 1. the files, transpiled -------------------------------------------------------------------

function inside(root, relative) {
  const target = path.resolve(root, relative);
  if (target !== root && !target.startsWith(root + path.sep)) throw new Error(`path ${relative} leaves the project`);
  return target;
}

function esbuildBinary() {
  const name = `@esbuild/${process.platform}-${process.arch}`;
  return path.join(path.dirname(require.resolve(`${name}/package.json`)), "bin", "esbuild");
}

function transpile(files) {
  const scripts = [];
  for (const [relative, text] of Object.entries(files)) {
    const source = inside(SOURCES, relative);
    fs.mkdirSync(path.dirname(source), { recursive: true });
    fs.writeFileSync(source, text);
    if (SCRIPT.test(relative)) scripts.push(source);
    else {
      const copy = inside(BUILT, relative);
      fs.mkdirSync(path.dirname(copy), { recursive: true });
      fs.writeFileSync(copy, text);
    }
  }
  const args = [
    `--outdir=${BUILT}`, `--outbase=${SOURCES}`, "--format=cjs", "--platform=node", "--target=node18",
    "--jsx=automatic", "--loader:.js=jsx", "--log-level=error", "--color=false", ...scripts,
  ];
  const result = childProcess.spawnSync(esbuildBinary(), args, { encoding: "utf8", env: {} });
  if (result.status !== 0) {
    throw new Error(`the code does not compile:\n${(result.stderr || String(result.error)).trim()}`);
  }
  for (const source of scripts) {
    const built = path.join(BUILT, path.relative(SOURCES, source)).replace(SCRIPT, ".js");
    const code = fs.readFileSync(built, "utf8");
    const hoisted = hoistJestCalls(code);
    if (hoisted !== code) fs.writeFileSync(built, hoisted);
  }
}

// Jest runs `jest.mock(...)` before the imports of the file that calls it (babel-plugin-jest-hoist moves
// those calls to the top of the file), so an `import { get } from "./api"` already gets the mock. esbuild
// keeps the order of statements, so its CommonJS output has the requires first: this parses that output
// (with acorn: it is plain JavaScript by then, whatever the source's dialect) and moves every top-level
// statement that is a chain of jest.mock / unmock / enableAutomock / disableAutomock / deepUnmock calls
// (on the global `jest` or the one imported from @jest/globals) above the first require, keeping their
// order. Calls inside functions are not moved (Jest hoists those within their own block, which matters
// only for a require written above them in that block). The moved statements' lines are left blank, so
// the lines after them keep their numbers. Limit: a hoisted call's arguments run before the imports, as
// in Jest, so they may name only globals and `mock*` variables its factory reads once it is called.
const HOISTED = new Set(["mock", "unmock", "enableAutomock", "disableAutomock", "deepUnmock"]);
const HOIST_HINT = /\b(?:mock|unmock|enableAutomock|disableAutomock|deepUnmock)\s*\(/;
const HOISTED_JEST = "__commentslabJest";

function requiresJestGlobals(node) {
  if (!node || node.type !== "CallExpression") return false;
  if (node.callee.type === "Identifier" && node.callee.name === "require") {
    return node.arguments.length === 1 && node.arguments[0].type === "Literal" && node.arguments[0].value === "@jest/globals";
  }
  return node.arguments.length > 0 && requiresJestGlobals(node.arguments[0]); // __toESM(require(...))
}

function hoistJestCalls(code) {
  if (!HOIST_HINT.test(code)) return code;
  let program;
  try {
    program = runtimePackage("acorn").parse(code, { ecmaVersion: "latest", sourceType: "script", allowHashBang: true,
                                             allowReturnOutsideFunction: true });
  } catch {
    return code; // esbuild's output always parses; if not, Node reports the error when it loads the file
  }
  const globalsBindings = new Set();
  for (const statement of program.body) {
    if (statement.type !== "VariableDeclaration") continue;
    for (const declarator of statement.declarations) {
      if (declarator.id.type === "Identifier" && requiresJestGlobals(declarator.init)) globalsBindings.add(declarator.id.name);
    }
  }
  const jestRoot = (node) =>
    (node.type === "Identifier" && node.name === "jest") ||
    (node.type === "MemberExpression" && !node.computed && node.property.type === "Identifier" &&
     node.property.name === "jest" && node.object.type === "Identifier" && globalsBindings.has(node.object.name));
  // The root (`jest`, `import_globals.jest`) of a statement that is only hoisted calls, or null.
  function hoistable(statement) {
    if (statement.type !== "ExpressionStatement") return null;
    let node = statement.expression;
    let calls = 0;
    while (node.type === "CallExpression" && node.callee.type === "MemberExpression" && !node.callee.computed &&
           node.callee.property.type === "Identifier" && HOISTED.has(node.callee.property.name)) {
      node = node.callee.object;
      calls += 1;
    }
    return calls > 0 && jestRoot(node) ? node : null;
  }
  // Directives and esbuild's helpers (`var __toESM = ...`) stay first; the hoisted calls follow them.
  let insertAt = code.startsWith("#!") ? code.indexOf("\n") + 1 || code.length : 0;
  let index = 0;
  for (; index < program.body.length; index += 1) {
    const statement = program.body[index];
    const helper = statement.type === "VariableDeclaration" &&
      statement.declarations.every((d) => d.id.type === "Identifier" && d.id.name.startsWith("__"));
    if (!statement.directive && !helper) break;
    insertAt = statement.end;
  }
  const moved = [];
  for (; index < program.body.length; index += 1) {
    const statement = program.body[index];
    const root = hoistable(statement);
    if (root) moved.push({ statement, root });
  }
  if (!moved.length) return code;
  const hoisted = moved.map(({ statement, root }) =>
    HOISTED_JEST + code.slice(root.end, statement.end) + (code[statement.end - 1] === ";" ? "" : ";"));
  let rest = "";
  let from = insertAt;
  for (const { statement } of moved) {
    rest += code.slice(from, statement.start) + code.slice(statement.start, statement.end).replace(/[^\n]/g, "");
    from = statement.end;
  }
  rest += code.slice(from);
  return `${code.slice(0, insertAt)} var ${HOISTED_JEST} = require("@jest/globals").jest; ${hoisted.join(" ")}${rest}`;
}

// Every script became a .js file under ./out: an import naming the source's own extension
// (`./math.ts`, `./Button.jsx`, `./util.mjs`) finds it there.
const load = Module._load;
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  if (request.startsWith(".") && parent && parent.filename && parent.filename.startsWith(BUILT)) {
    const renamed = request.replace(/\.(?:jsx|ts|tsx|mjs|cjs|mts|cts)$/, ".js");
    if (renamed !== request) {
      try {
        return resolveFilename.call(this, renamed, parent, ...rest);
      } catch {
        // fall through to the request as written
      }
    }
  }
  return resolveFilename.call(this, request, parent, ...rest);
};

// ---- 2. the runner ------------------------------------------------------------------------------

let assertions = 0; // assert calls and node:test plans; expect's own count is added per test

function suite(name, parent) {
  return { name, parent, children: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [], skip: false, only: false };
}

const ROOT = suite("", null);
let collecting = ROOT;
let current = null; // the test running now
let anyOnly = false;

function addTest(name, fn, options = {}) {
  if (typeof name === "function") [name, fn] = [fn.name || "<anonymous>", name];
  if (typeof fn !== "function" && typeof options === "function") [fn, options] = [options, {}];
  const test = { name: String(name), fn, skip: Boolean(options.skip || options.todo || !fn), only: Boolean(options.only),
                 timeout: options.timeout || TEST_TIMEOUT_MS, parent: collecting, style: options.style };
  if (test.only) anyOnly = true;
  collecting.children.push(test);
}

function addSuite(name, fn, options = {}) {
  if (typeof name === "function") [name, fn] = [fn.name || "<anonymous>", name];
  if (typeof fn !== "function" && typeof options === "function") [fn, options] = [options, {}];
  const child = suite(String(name), collecting);
  child.skip = Boolean(options.skip || options.todo);
  child.only = Boolean(options.only);
  if (child.only) anyOnly = true;
  collecting.children.push(child);
  const outer = collecting;
  collecting = child;
  try {
    const result = fn && fn();
    if (result && typeof result.then === "function") {
      throw new Error(`describe("${child.name}") returned a promise: a describe block must be synchronous`);
    }
  } finally {
    collecting = outer;
  }
}

function title(node) {
  const names = [];
  for (let n = node; n && n.parent; n = n.parent) names.unshift(n.name);
  return names.join(" > ");
}

function withTimeout(promise, ms, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = REAL.setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => REAL.clearTimeout(timer));
}

// A test function: async or not, or Jest's done callback (a function of one argument), or
// node:test's (context, done).
function call(fn, args, acceptsDone, ms, what) {
  const run = new Promise((resolve, reject) => {
    if (acceptsDone) {
      fn(...args, (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()));
      return;
    }
    Promise.resolve(fn(...args)).then(resolve, reject);
  });
  return withTimeout(run, ms, what);
}

// An error no test awaited: the running test's, or (between tests, after the run) the whole program's.
let uncaught = null;
let failedOutsideTests = false;
function strayError(error) {
  if (current) {
    uncaught = uncaught || error;
    return;
  }
  console.error(`commentslab: an error outside any test: ${error && error.stack ? error.stack : String(error)}`);
  failedOutsideTests = true;
  process.exitCode = 1;
}
process.on("uncaughtException", strayError);
process.on("unhandledRejection", (error) =>
  strayError(error instanceof Error ? error : new Error(`unhandled rejection: ${String(error)}`)));

const results = { passed: 0, failed: 0, skipped: 0 };

function report(test, error) {
  if (error) {
    // On stderr, where the sandbox looks for the signs of running out of memory.
    results.failed += 1;
    const text = error && error.stack ? error.stack : String(error);
    console.error(`✗ ${title(test)}\n    ${text.split("\n").slice(0, 12).join("\n    ")}`);
  } else {
    results.passed += 1;
    console.log(`✓ ${title(test)}`);
  }
}

function selected(node) {
  if (!anyOnly) return true;
  for (let n = node; n; n = n.parent) if (n.only) return true;
  return node.children ? node.children.some(selected) : false;
}

async function runHooks(hooks, what) {
  for (const hook of hooks) await call(hook.fn, [], hook.fn.length > 0, hook.timeout, what);
}

async function runTest(test) {
  const each = [];
  const after = [];
  for (let n = test.parent; n; n = n.parent) {
    each.unshift(...n.beforeEach);
    after.push(...n.afterEach);
  }
  current = test;
  uncaught = null;
  const before = assertions;
  expectModule.expect.setState({ assertionCalls: 0, expectedAssertionsNumber: null, isExpectingAssertions: false,
                                 suppressedErrors: [] });
  let error = null;
  try {
    await runHooks(each, `a beforeEach hook of "${title(test)}"`);
    const context = test.style === "node" ? nodeContext(test) : null;
    const args = context ? [context] : [];
    const acceptsDone = context ? test.fn.length > 1 : test.fn.length > 0;
    await call(test.fn, args, acceptsDone, test.timeout, `test "${title(test)}"`);
    if (context) await context._subtests();
  } catch (caught) {
    error = caught;
  }
  try {
    await runHooks(after, `an afterEach hook of "${title(test)}"`);
  } catch (caught) {
    error = error || caught;
  }
  // Let the test's last callbacks run, so an error they throw is this test's.
  await new Promise((resolve) => REAL.setImmediate(resolve));
  error = error || uncaught;
  const { assertionCalls, suppressedErrors } = expectModule.expect.getState();
  const expected = expectModule.expect.extractExpectedAssertionsErrors();
  if (!error && expected.length) error = expected[0].error;
  if (!error && suppressedErrors && suppressedErrors.length) error = suppressedErrors[0];
  if (!error && assertionCalls + assertions - before === 0) {
    error = new Error("the test made no assertion, so it cannot tell a right answer from a wrong one");
  }
  current = null;
  report(test, error);
}

async function runSuite(node, skipped) {
  if (!selected(node)) return;
  const skip = skipped || node.skip;
  if (!skip) {
    try {
      await runHooks(node.beforeAll, `a beforeAll hook of "${title(node) || "the file"}"`);
    } catch (error) {
      for (const test of tests(node)) report(test, error);
      return;
    }
  }
  for (const child of node.children) {
    if (child.children) await runSuite(child, skip);
    else if (skip || child.skip || !selected(child)) results.skipped += 1;
    else await runTest(child);
  }
  if (!skip) {
    try {
      await runHooks(node.afterAll, `an afterAll hook of "${title(node) || "the file"}"`);
    } catch (error) {
      report({ name: "afterAll", parent: node }, error);
    }
  }
}

function tests(node) {
  return node.children.flatMap((child) => (child.children ? tests(child) : [child]));
}

function hook(kind) {
  return (fn, timeout) => {
    if (typeof fn !== "function" && typeof timeout === "function") [fn, timeout] = [timeout, fn];
    if (typeof timeout === "object" && timeout) timeout = timeout.timeout;
    collecting[kind].push({ fn, timeout: timeout || TEST_TIMEOUT_MS });
  };
}

// ---- Jest's API ---------------------------------------------------------------------------------

const expectModule = require("expect");
const { ModuleMocker } = require("jest-mock");

const mocker = new ModuleMocker(globalThis);

function eachTable(table, rest) {
  if (Array.isArray(table)) return table.map((row) => (Array.isArray(row) ? row : [row]));
  // Tagged template: `a | b` header, then the values.
  const headings = table.join("").trim().split(/\s*\|\s*/);
  const rows = [];
  for (let i = 0; i < rest.length; i += headings.length) {
    rows.push([Object.fromEntries(headings.map((h, j) => [h, rest[i + j]]))]);
  }
  return rows;
}

function eachName(name, row, index) {
  let used = 0;
  let text = String(name).replace(/%[sdifjpo#%]/g, (token) => {
    if (token === "%%") return "%";
    if (token === "%#") return String(index);
    const value = row[used++];
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  });
  if (row.length === 1 && row[0] && typeof row[0] === "object" && !Array.isArray(row[0])) {
    text = text.replace(/\$([A-Za-z_$][\w$]*)/g, (whole, key) => (key in row[0] ? String(row[0][key]) : whole));
  }
  return text;
}

function jestTest(options = {}) {
  const fn = (name, body, timeout) => addTest(name, body, { ...options, timeout, style: "jest" });
  fn.each = (table, ...rest) => (name, body, timeout) =>
    eachTable(table, rest).forEach((row, index) =>
      addTest(eachName(name, row, index), () => body(...row), { ...options, timeout, style: "jest" }));
  return fn;
}

function jestDescribe(options = {}) {
  const fn = (name, body) => addSuite(name, body, options);
  fn.each = (table, ...rest) => (name, body) =>
    eachTable(table, rest).forEach((row, index) => addSuite(eachName(name, row, index), () => body(...row), options));
  return fn;
}

const test = Object.assign(jestTest(), { skip: jestTest({ skip: true }), only: jestTest({ only: true }),
                                        todo: (name) => addTest(name, null, { todo: true }) });
test.concurrent = test;
const describe = Object.assign(jestDescribe(), { skip: jestDescribe({ skip: true }), only: jestDescribe({ only: true }) });

// ---- module mocks ---------------------------------------------------------------------------------
//
// As in Jest, a mocked path is resolved from the file that calls jest.mock (found on the call stack),
// and a mock is keyed by the file it resolves to (or `node:<name>` for Node's own modules), so
// `jest.mock("../api")` in a test and `require("./api")` in the code under test meet. The registry is a
// test file's own: it is emptied, and the project's modules are unloaded, before each test file runs.
// A mock runs in this process under the same sandbox as everything else: it can do nothing the code
// under test could not do without it.

const mocks = {
  factories: new Map(),   // key -> factory, from jest.mock(path, factory) / doMock / setMock
  automatic: new Set(),   // keys mocked without a factory: __mocks__/<name> beside it, else generated
  unmocked: new Set(),    // keys jest.unmock / dontMock took out of automock
  instances: new Map(),   // key -> the mock's exports, made once per module registry
  automock: false,        // jest.enableAutomock(): every project module and package a project file requires
};

function mocking() {
  return mocks.automock || mocks.factories.size > 0 || mocks.automatic.size > 0;
}

let activeFile = null; // the test file being loaded or run: where a call from outside the project resolves from

// The project file (under ./out) that called into the runtime, from V8's structured call sites.
function callerFile() {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  let sites = [];
  try {
    Error.stackTraceLimit = 64;
    Error.prepareStackTrace = (_, callSites) => callSites;
    const holder = {};
    Error.captureStackTrace(holder, callerFile);
    sites = Array.isArray(holder.stack) ? holder.stack : [];
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
  for (const site of sites) {
    const file = site.getFileName && site.getFileName();
    if (file && file.startsWith(BUILT + path.sep)) return file;
  }
  return activeFile || path.join(BUILT, "index.js");
}

function moduleFrom(file) {
  const module = new Module(file, null);
  module.filename = file;
  module.paths = Module._nodeModulePaths(path.dirname(file));
  return module;
}

function shown(file) {
  return file.startsWith(BUILT + path.sep) ? path.relative(BUILT, file) : file;
}

const builtin = (request) => (Module.isBuiltin ? Module.isBuiltin(request) : Module.builtinModules.includes(request));

// The key of `request` required from `from` (a Module), or an error saying it cannot be found.
function mockKey(request, from) {
  if (builtin(request)) return `node:${request.replace(/^node:/, "")}`;
  return Module._resolveFilename(request, from, false);
}

// A virtual mock (jest.mock(name, factory, { virtual: true })) names a module that need not exist.
function virtualKey(request, from) {
  return request.startsWith(".") ? path.resolve(path.dirname(from.filename), request) : request;
}

function keyFor(request, file, options) {
  const from = moduleFrom(file);
  try {
    return mockKey(request, from);
  } catch (error) {
    if (options && options.virtual) return virtualKey(request, from);
    throw new Error(`Cannot find module '${request}' from '${shown(file)}' (jest.mock of a path that does not exist; ` +
                    "pass { virtual: true } for a module that is not there)");
  }
}

function requireActualFrom(request, file) {
  return load.call(Module, request, moduleFrom(file), false);
}

// Jest's automock: the module's own exports, every function a jest.fn returning undefined, classes with
// mocked methods, other values kept.
function generatedMock(request, file) {
  const actual = requireActualFrom(request, file);
  const metadata = mocker.getMetadata(actual);
  if (!metadata) throw new Error(`jest could not make an automatic mock of '${request}'`);
  return mocker.generateFromMetadata(metadata);
}

// A manual mock: __mocks__/<file> beside a project file, or <project>/__mocks__/<package or Node module>.
function manualMock(key, request) {
  const candidate = key.startsWith(BUILT + path.sep)
    ? path.join(path.dirname(key), "__mocks__", path.basename(key))
    : path.join(BUILT, "__mocks__", `${request.replace(/^node:/, "")}.js`);
  return !request.startsWith(".") || key.startsWith(BUILT + path.sep) ? (fs.existsSync(candidate) ? candidate : null) : null;
}

const NOT_MOCKED = Symbol("not mocked");

function mockedExports(request, parent) {
  const file = parent && parent.filename ? parent.filename : callerFile();
  let key;
  try {
    key = mockKey(request, parent && parent.filename ? parent : moduleFrom(file));
  } catch {
    key = virtualKey(request, moduleFrom(file));
    if (!mocks.factories.has(key)) return NOT_MOCKED; // let Node report the missing module
  }
  if (mocks.unmocked.has(key)) return NOT_MOCKED;
  if (mocks.instances.has(key)) return mocks.instances.get(key);
  let make = null;
  if (mocks.factories.has(key)) make = mocks.factories.get(key);
  else if (mocks.automatic.has(key) || (mocks.automock && file.startsWith(BUILT + path.sep) && !key.startsWith("node:") &&
                                         !key.startsWith(BUILT + path.sep + "__mocks__"))) {
    if (key.includes(`${path.sep}__mocks__${path.sep}`)) return NOT_MOCKED;
    const manual = manualMock(key, request);
    make = manual ? () => load.call(Module, manual, parent, false) : () => generatedMock(request, file);
  }
  if (!make) return NOT_MOCKED;
  const exports = make();
  mocks.instances.set(key, exports);
  return exports;
}

// Unload the project's modules (not the npm packages: React must stay one React), so the next require
// runs them again and meets the mocks registered now.
function resetModules() {
  mocks.instances.clear();
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(BUILT + path.sep)) delete require.cache[key];
  }
}

function resetMockRegistry() {
  mocks.factories.clear();
  mocks.automatic.clear();
  mocks.unmocked.clear();
  mocks.automock = false;
  resetModules();
}

function registerMock(request, factory, options) {
  // A package the sandbox does not have (axios, a database client) can still be mocked with a factory:
  // the factory is all the tests will see of it. A missing project path is an error, as in Jest.
  const bare = !request.startsWith(".") && !path.isAbsolute(request);
  const virtual = (options && options.virtual) || (bare && typeof factory === "function");
  const key = keyFor(request, callerFile(), { virtual });
  mocks.unmocked.delete(key);
  mocks.instances.delete(key);
  if (typeof factory === "function") {
    mocks.factories.set(key, factory);
    mocks.automatic.delete(key);
  } else {
    mocks.automatic.add(key);
    mocks.factories.delete(key);
  }
  return jest;
}

function unregisterMock(request) {
  const key = keyFor(request, callerFile(), { virtual: true });
  mocks.factories.delete(key);
  mocks.automatic.delete(key);
  mocks.instances.delete(key);
  mocks.unmocked.add(key);
  return jest;
}

// ---- fake timers ----------------------------------------------------------------------------------
//
// Jest's own implementations (@jest/fake-timers): the modern ones over @sinonjs/fake-timers by default,
// the legacy ones with { legacyFakeTimers: true }. They replace the global timers, Date, hrtime and
// performance as Jest's do; process.nextTick and queueMicrotask always stay real, because here the
// tests share their realm with Node's own internals (Jest gives each test file a separate `process`).

const TIMER_CONFIG = { rootDir: HERE, testMatch: [], fakeTimers: { doNotFake: ["nextTick", "queueMicrotask"] } };
const timers = { modern: null, legacy: null, active: null };

// The runtime's own packages, loaded past the mocks (a test's jest.mock of a package the runtime uses
// changes what the tests see, never the runtime).
const runtimePackage = (name) => load.call(Module, name, module, false);

function fakeTimers() {
  const { ModernFakeTimers } = runtimePackage("@jest/fake-timers");
  if (!timers.modern) timers.modern = new ModernFakeTimers({ global: globalThis, config: TIMER_CONFIG });
  return timers.active || timers.modern;
}

function useFakeTimers(config = {}) {
  const { LegacyFakeTimers } = runtimePackage("@jest/fake-timers");
  useRealTimers();
  if (config.legacyFakeTimers) {
    if (!timers.legacy) {
      timers.legacy = new LegacyFakeTimers({
        global: globalThis, moduleMocker: mocker, config: TIMER_CONFIG,
        timerConfig: { idToRef: (id) => ({ id, ref() { return this; }, unref() { return this; } }),
                       refToId: (timer) => (timer && timer.id) },
      });
    }
    timers.legacy.useFakeTimers();
    timers.active = timers.legacy;
  } else {
    fakeTimers();
    const doNotFake = [...new Set([...TIMER_CONFIG.fakeTimers.doNotFake, ...(config.doNotFake || [])])];
    timers.modern.useFakeTimers({ ...config, doNotFake });
    timers.active = timers.modern;
  }
  return jest;
}

function useRealTimers() {
  if (timers.modern) timers.modern.useRealTimers();
  if (timers.legacy) timers.legacy.useRealTimers();
  timers.active = null;
  return jest;
}

const timerMethod = (name) => (...args) => {
  const implementation = fakeTimers();
  if (typeof implementation[name] !== "function") {
    throw new Error(`jest.${name}() is not available with ${implementation === timers.legacy ? "legacy" : "modern"} fake timers`);
  }
  return implementation[name](...args);
};

const jest = {
  fn: (implementation) => mocker.fn(implementation),
  spyOn: (object, method, accessType) => mocker.spyOn(object, method, accessType),
  isMockFunction: (fn) => mocker.isMockFunction(fn),
  mocked: (source) => source,
  replaceProperty: (object, key, value) => mocker.replaceProperty(object, key, value),
  clearAllMocks: () => { mocker.clearAllMocks(); return jest; },
  resetAllMocks: () => { mocker.resetAllMocks(); return jest; },
  restoreAllMocks: () => { mocker.restoreAllMocks(); return jest; },
  setTimeout: () => jest,
  // module mocks
  mock: (request, factory, options) => registerMock(request, factory, options),
  doMock: (request, factory, options) => registerMock(request, factory, options),
  setMock: (request, exports) => registerMock(request, () => exports),
  unmock: (request) => unregisterMock(request),
  dontMock: (request) => unregisterMock(request),
  deepUnmock: (request) => unregisterMock(request),
  enableAutomock: () => { mocks.automock = true; return jest; },
  disableAutomock: () => { mocks.automock = false; return jest; },
  requireActual: (request) => requireActualFrom(request, callerFile()),
  requireMock(request) {
    const file = callerFile();
    const key = keyFor(request, file, { virtual: true });
    if (mocks.instances.has(key)) return mocks.instances.get(key);
    const exports = mocks.factories.has(key) ? mocks.factories.get(key)()
      : (manualMock(key, request) ? load.call(Module, manualMock(key, request), moduleFrom(file), false)
        : generatedMock(request, file));
    mocks.instances.set(key, exports);
    return exports;
  },
  createMockFromModule: (request) => generatedMock(request, callerFile()),
  genMockFromModule: (request) => generatedMock(request, callerFile()),
  resetModules: () => { resetModules(); return jest; },
  isolateModules(fn) {
    const saved = { ...require.cache };
    const instances = new Map(mocks.instances);
    resetModules();
    try {
      fn();
    } finally {
      for (const key of Object.keys(require.cache)) if (key.startsWith(BUILT + path.sep)) delete require.cache[key];
      Object.assign(require.cache, saved);
      mocks.instances = instances;
    }
    return jest;
  },
  // fake timers
  useFakeTimers: (config) => useFakeTimers(config || {}),
  useRealTimers: () => useRealTimers(),
  isFakeTimers: () => timers.active !== null,
  advanceTimersByTime: timerMethod("advanceTimersByTime"),
  advanceTimersByTimeAsync: timerMethod("advanceTimersByTimeAsync"),
  advanceTimersToNextTimer: timerMethod("advanceTimersToNextTimer"),
  advanceTimersToNextTimerAsync: timerMethod("advanceTimersToNextTimerAsync"),
  advanceTimersToNextFrame: timerMethod("advanceTimersToNextFrame"),
  runAllTimers: timerMethod("runAllTimers"),
  runAllTimersAsync: timerMethod("runAllTimersAsync"),
  runOnlyPendingTimers: timerMethod("runOnlyPendingTimers"),
  runOnlyPendingTimersAsync: timerMethod("runOnlyPendingTimersAsync"),
  runAllTicks: timerMethod("runAllTicks"),
  runAllImmediates: timerMethod("runAllImmediates"),
  clearAllTimers: timerMethod("clearAllTimers"),
  getTimerCount: timerMethod("getTimerCount"),
  setSystemTime: timerMethod("setSystemTime"),
  now: () => (timers.active ? timers.active.now() : REAL.Date.now()),
  getRealSystemTime: () => REAL.Date.now(),
};

const JEST = Object.freeze({
  describe, test, it: test, xit: test.skip, xtest: test.skip, fit: test.only, xdescribe: describe.skip,
  fdescribe: describe.only, beforeAll: hook("beforeAll"), afterAll: hook("afterAll"),
  beforeEach: hook("beforeEach"), afterEach: hook("afterEach"), expect: expectModule.expect, jest: Object.freeze(jest),
});

// ---- node:test's API ----------------------------------------------------------------------------

function nodeMockFn(original = function () {}, implementation = original) {
  const calls = [];
  let impl = implementation;
  function mocked(...args) {
    const call = { arguments: args, this: this, result: undefined, error: undefined };
    calls.push(call);
    try {
      call.result = new.target ? Reflect.construct(impl, args, new.target) : impl.apply(this, args);
      return call.result;
    } catch (error) {
      call.error = error;
      throw error;
    }
  }
  mocked.mock = {
    calls,
    callCount: () => calls.length,
    mockImplementation: (fn) => { impl = fn; },
    resetCalls: () => { calls.length = 0; },
    restore: () => { impl = original; },
  };
  return mocked;
}

// node:test's mock.timers, over @sinonjs/fake-timers (the clock Jest's modern fake timers use).
const NODE_TIMER_APIS = { setTimeout: ["setTimeout", "clearTimeout"], setInterval: ["setInterval", "clearInterval"],
                          setImmediate: ["setImmediate", "clearImmediate"], Date: ["Date"] };
const nodeTimers = {
  _clock: null,
  enable(options = {}) {
    if (this._clock) throw new Error("mock.timers is already enabled");
    const apis = Array.isArray(options) ? options : options.apis || Object.keys(NODE_TIMER_APIS);
    const toFake = apis.flatMap((api) => {
      if (!NODE_TIMER_APIS[api]) throw new TypeError(`mock.timers.enable: unknown API ${api}`);
      return NODE_TIMER_APIS[api];
    });
    const now = options.now instanceof Date ? options.now.getTime() : options.now || 0;
    this._clock = runtimePackage("@sinonjs/fake-timers").withGlobal(globalThis).install({ toFake, now, loopLimit: 100000 });
  },
  _running() {
    if (!this._clock) throw new Error("mock.timers is not enabled: call mock.timers.enable() first");
    return this._clock;
  },
  tick(ms = 1) { this._running().tick(ms); },
  runAll() { this._running().runAll(); },
  setTime(ms) { this._running().setSystemTime(ms); },
  reset() {
    if (this._clock) this._clock.uninstall();
    this._clock = null;
  },
  [Symbol.dispose]() { this.reset(); },
};

const nodeMock = {
  timers: nodeTimers,
  fn: (original, implementation) => nodeMockFn(original, implementation),
  method(object, name, implementation) {
    const original = object[name];
    const mocked = nodeMockFn(original, implementation || original);
    object[name] = mocked;
    mocked.mock.restore = () => { object[name] = original; };
    return mocked;
  },
  reset() { nodeTimers.reset(); },
  restoreAll() {},
};

function nodeContext(test) {
  const pending = [];
  const context = {
    name: test.name,
    signal: new AbortController().signal,
    mock: nodeMock,
    diagnostic: (message) => console.log(`# ${message}`),
    plan: () => { assertions += 1; },
    skip: () => {},
    todo: () => {},
    test(name, options, fn) {
      if (typeof name === "function") [name, options, fn] = [name.name || "<anonymous>", {}, name];
      if (typeof options === "function") [options, fn] = [{}, options];
      const child = { name: String(name), fn, parent: { name: test.name, parent: test.parent, beforeEach: [], afterEach: [] },
                      style: "node", timeout: (options && options.timeout) || TEST_TIMEOUT_MS };
      const run = (async () => {
        if (options && (options.skip || options.todo)) return;
        const inner = nodeContext(child);
        await call(fn, [inner], fn.length > 1, child.timeout, `subtest "${child.name}"`);
        await inner._subtests();
      })();
      pending.push(run);
      return run;
    },
    _subtests: () => Promise.all(pending),
  };
  return context;
}

function nodeTest(options = {}) {
  return (name, opts, fn) => {
    if (typeof opts === "function") [opts, fn] = [{}, opts];
    if (typeof name === "function") [name, opts, fn] = [name.name || "<anonymous>", {}, name];
    if (name && typeof name === "object") [name, opts, fn] = ["<anonymous>", name, opts];
    addTest(name, fn, { ...(opts || {}), ...options, style: "node" });
    return Promise.resolve();
  };
}

function nodeDescribe(options = {}) {
  return (name, opts, fn) => {
    if (typeof opts === "function") [opts, fn] = [{}, opts];
    addSuite(name, fn, { ...(opts || {}), ...options });
    return Promise.resolve();
  };
}

const nodeTestFn = Object.assign(nodeTest(), { skip: nodeTest({ skip: true }), todo: nodeTest({ todo: true }),
                                              only: nodeTest({ only: true }) });
const nodeDescribeFn = Object.assign(nodeDescribe(), { skip: nodeDescribe({ skip: true }),
                                                      todo: nodeDescribe({ todo: true }), only: nodeDescribe({ only: true }) });
const NODE_TEST = Object.freeze(Object.assign(nodeTestFn, {
  test: nodeTestFn, it: nodeTestFn, describe: nodeDescribeFn, suite: nodeDescribeFn,
  before: hook("beforeAll"), after: hook("afterAll"), beforeEach: hook("beforeEach"), afterEach: hook("afterEach"),
  mock: nodeMock,
}));

// Every call of node's assert counts as an assertion of the running test.
function counted(target) {
  return new Proxy(target, {
    apply(fn, self, args) {
      assertions += 1;
      return Reflect.apply(fn, self, args);
    },
    get(object, key) {
      const value = Reflect.get(object, key);
      if (typeof value === "function" && key !== "AssertionError" && !/^[A-Z]/.test(String(key))) {
        return counted(value);
      }
      return value;
    },
  });
}

const ASSERT = counted(require("assert"));
const ASSERT_STRICT = counted(require("assert").strict);
const MODULES = {
  "node:test": NODE_TEST, "@jest/globals": JEST,
  "assert": ASSERT, "node:assert": ASSERT, "assert/strict": ASSERT_STRICT, "node:assert/strict": ASSERT_STRICT,
};
Module._load = function (request, parent, isMain) {
  if (Object.hasOwn(MODULES, request)) return MODULES[request];
  // The runtime's own requires (and the sandbox's pass statement appended to this file) are never mocked.
  if ((mocking() || mocks.instances.size) && !(parent && parent.filename === __filename)) {
    const exports = mockedExports(request, parent);
    if (exports !== NOT_MOCKED) return exports;
  }
  return load.call(this, request, parent, isMain);
};

// ---- 3. the environment -------------------------------------------------------------------------

function wantsDom(relative, text) {
  return /@jest-environment\s+jsdom/.test(text) || /\.(?:jsx|tsx)$/.test(relative) || /@testing-library\//.test(text);
}

function mountDom() {
  const { JSDOM } = require("jsdom");
  const dom = new JSDOM("<!doctype html><html><head></head><body></body></html>", {
    url: "http://localhost/", pretendToBeVisual: true,
  });
  const { window } = dom;
  for (const key of Object.getOwnPropertyNames(window)) {
    if (key in globalThis) continue;
    try {
      Object.defineProperty(globalThis, key, Object.getOwnPropertyDescriptor(window, key));
    } catch {
      // a property jsdom's window does not let go of
    }
  }
  globalThis.window = window;
  globalThis.document = window.document;
  globalThis.navigator = window.navigator;
  globalThis.IS_REACT_ACT_ENVIRONMENT = true;
  try {
    expectModule.expect.extend(require("@testing-library/jest-dom/matchers"));
  } catch {
    // the DOM matchers are optional
  }
  return dom;
}

// ---- 4. run -------------------------------------------------------------------------------------

async function main() {
  const { files, tests: testFiles } = PAYLOAD;
  transpile(files);
  for (const [name, value] of Object.entries(JEST)) {
    Object.defineProperty(globalThis, name, { value, writable: false, configurable: false, enumerable: false });
  }
  const dom = testFiles.some((file) => wantsDom(file, files[file])) ? mountDom() : null;
  // One test file after another, each loaded and run with its own module registry, mocks, fake timers
  // and `.only`, as Jest runs each file in an environment of its own.
  for (const file of testFiles) {
    const built = inside(BUILT, file).replace(SCRIPT, ".js");
    useRealTimers();
    nodeTimers.reset();
    resetMockRegistry();
    anyOnly = false;
    activeFile = built;
    const fileSuite = suite(file, ROOT);
    ROOT.children.push(fileSuite);
    collecting = fileSuite;
    try {
      require(built);
    } catch (error) {
      report({ name: `${file} (loading it)`, parent: ROOT }, error);
      continue;
    } finally {
      collecting = ROOT;
    }
    await runSuite(fileSuite, false);
  }
  useRealTimers();
  nodeTimers.reset();
  resetMockRegistry();
  activeFile = null;
  if (dom) dom.window.close();
  const ran = results.passed + results.failed;
  console.log(`${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
  finished = true;
  if (ran === 0) return fail("no test ran");
  process.exitCode = results.failed === 0 && !failedOutsideTests ? 0 : 1;
}

main().catch((error) => fail(error && error.stack ? error.stack : String(error)));
