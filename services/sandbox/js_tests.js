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
}

// Every script became a .js file under ./out: an import naming the source's own extension
// (`./math.ts`, `./Button.jsx`, `./util.mjs`) finds it there.
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
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
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
  await new Promise((resolve) => setImmediate(resolve));
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

const jest = {
  fn: (implementation) => mocker.fn(implementation),
  spyOn: (object, method, accessType) => mocker.spyOn(object, method, accessType),
  isMockFunction: (fn) => mocker.isMockFunction(fn),
  clearAllMocks: () => mocker.clearAllMocks(),
  resetAllMocks: () => mocker.resetAllMocks(),
  restoreAllMocks: () => mocker.restoreAllMocks(),
  setTimeout: () => jest,
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

const nodeMock = {
  fn: (original, implementation) => nodeMockFn(original, implementation),
  method(object, name, implementation) {
    const original = object[name];
    const mocked = nodeMockFn(original, implementation || original);
    object[name] = mocked;
    mocked.mock.restore = () => { object[name] = original; };
    return mocked;
  },
  reset() {},
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
const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (MODULES[request]) return MODULES[request];
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
  for (const file of testFiles) {
    const built = inside(BUILT, file).replace(SCRIPT, ".js");
    const fileSuite = suite(file, ROOT);
    ROOT.children.push(fileSuite);
    collecting = fileSuite;
    try {
      require(built);
    } catch (error) {
      collecting = ROOT;
      report({ name: `${file} (loading it)`, parent: ROOT }, error);
      continue;
    }
    collecting = ROOT;
  }
  await runSuite(ROOT, false);
  if (dom) dom.window.close();
  const ran = results.passed + results.failed;
  console.log(`${results.passed} passed, ${results.failed} failed, ${results.skipped} skipped`);
  finished = true;
  if (ran === 0) return fail("no test ran");
  process.exitCode = results.failed === 0 && !failedOutsideTests ? 0 : 1;
}

main().catch((error) => fail(error && error.stack ? error.stack : String(error)));
