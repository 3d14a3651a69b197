"""Jest's module mocks (jest.mock with a factory and without, requireActual, doMock) and fake timers
(jest.useFakeTimers and node:test's mock.timers) in the sandbox's JavaScript runtime: each suite passes
only because the mock or the fake clock is what the code under test got, a mock of a missing path fails
that file with Jest's message, and a mock's factory reaches no further than the code under test could."""

from __future__ import annotations

from test_sandbox_adversarial import wait_until_no_sandbox_process

from commentslab.services.sandbox.execute import Limits, run_many, run_program
from commentslab.services.sandbox.js_program import record_program, suite_program

LIMITS = Limits(cpu_seconds=10, wall_seconds=30, memory_mb=1024)

# The real api throws: a test that reaches it instead of the mock fails.
API = ("export async function fetchUser(id) {\n"
       "  throw new Error(`the real fetchUser(${id}) ran: it would go to the network`);\n"
       "}\n"
       "export const BASE = 'https://api.example';\n"
       "export default function tag() {\n"
       "  return 'real';\n"
       "}\n")
USER_PROMPT = ("import tag, { fetchUser } from './api';\n"
               "\n"
               "export async function userName(id) {\n")
USER_BODY = ("  const user = await fetchUser(id);\n"
             "  return user.name.toUpperCase() + tag();\n"
             "}\n")
FACTORY_TEST = ("import { userName } from './user';\n"
                "import { fetchUser } from './api';\n"
                "\n"
                "const mockTag = jest.fn(() => '!');\n"
                "jest.mock('./api', () => ({ __esModule: true, fetchUser: jest.fn(), default: () => mockTag() }));\n"
                "\n"
                "test('the code under test gets the factory mock', async () => {\n"
                "  fetchUser.mockResolvedValue({ name: 'ada' });\n"
                "  await expect(userName(7)).resolves.toBe('ADA!');\n"
                "  expect(fetchUser).toHaveBeenCalledWith(7);\n"
                "  expect(mockTag).toHaveBeenCalledTimes(1);\n"
                "});\n")
# TypeScript, jest from @jest/globals, an automatic mock, and the actual module beside it.
AUTOMOCK_TEST = ("import { describe, expect, it, jest } from '@jest/globals';\n"
                 "import { userName } from '../user';\n"
                 "import * as api from '../api';\n"
                 "\n"
                 "jest.mock('../api');\n"
                 "\n"
                 "describe('automock', () => {\n"
                 "  it('replaces every function with a jest.fn and keeps the constants', async () => {\n"
                 "    expect(jest.isMockFunction(api.fetchUser)).toBe(true);\n"
                 "    expect(api.BASE).toBe('https://api.example');\n"
                 "    (api.fetchUser as jest.Mock<any>).mockResolvedValue({ name: 'bo' });\n"
                 "    const name: string = await userName(1);\n"
                 "    expect(name).toBe('BOundefined');\n"
                 "  });\n"
                 "  it('still reaches the real module through requireActual', async () => {\n"
                 "    const actual = jest.requireActual<typeof api>('../api');\n"
                 "    expect(actual.default()).toBe('real');\n"
                 "  });\n"
                 "});\n")
# CommonJS, after the files that mocked ./api: the mocks were theirs alone.
REAL_TEST = ("const { fetchUser } = require('../src/api');\n"
             "\n"
             "test('another file gets the real module', async () => {\n"
             "  await expect(fetchUser(3)).rejects.toThrow('the real fetchUser(3) ran');\n"
             "});\n")
# A React component with a child component mocked by a factory that returns JSX.
AVATAR = "export default function Avatar({ name }) {\n  return <img alt={name} />;\n}\n"
CARD = ("import Avatar from './Avatar';\n"
        "\n"
        "export function Card({ name }) {\n"
        "  return <div><Avatar name={name} /></div>;\n"
        "}\n")
CARD_TEST = ("import { render, screen } from '@testing-library/react';\n"
             "import { Card } from './Card';\n"
             "\n"
             "jest.mock('./Avatar', () => function MockAvatar({ name }) {\n"
             "  return <span>avatar of {name}</span>;\n"
             "});\n"
             "// Node's own modules can be mocked too; the run's pass signal still gets through.\n"
             "jest.mock('fs');\n"
             "\n"
             "test('renders the mocked child', () => {\n"
             "  render(<Card name=\"Ada\" />);\n"
             "  expect(screen.getByText('avatar of Ada')).toBeInTheDocument();\n"
             "  expect(jest.isMockFunction(require('fs').writeSync)).toBe(true);\n"
             "});\n")
MOCK_FILES = {"src/api.js": API, "src/user.test.js": FACTORY_TEST, "src/__tests__/user.auto.test.ts": AUTOMOCK_TEST,
              "test/api.test.js": REAL_TEST, "src/Avatar.jsx": AVATAR, "src/Card.jsx": CARD,
              "src/Card.test.jsx": CARD_TEST}
MOCK_TESTS = ["src/user.test.js", "src/__tests__/user.auto.test.ts", "test/api.test.js", "src/Card.test.jsx"]


def _user_row(test_file: str, text: str) -> dict:
    return {"id": "userName", "prompt": USER_PROMPT,
            "tests": {"module": "src/user.js", "after": "", "files": {**MOCK_FILES, test_file: text},
                      "testFiles": [test_file]}}


def test_mocked_modules_are_what_the_code_under_test_gets():
    row = {"id": "userName", "prompt": USER_PROMPT,
           "tests": {"module": "src/user.js", "after": "", "files": MOCK_FILES, "testFiles": MOCK_TESTS}}
    # The same factory suite with its jest.mock line left out: the test file gets the real api.
    unmocked = "".join(line for line in FACTORY_TEST.splitlines(keepends=True) if not line.startswith("jest.mock("))
    assert unmocked != FACTORY_TEST
    right, wrong, without_the_mock = run_many(
        [record_program(row, USER_BODY), record_program(row, "  return 'ADA!';\n}\n"),
         record_program(_user_row("src/user.test.js", unmocked), USER_BODY)], "javascript", LIMITS)

    assert right.status == "passed", right.stdout + right.stderr
    assert "5 passed, 0 failed" in right.stdout
    for name in ("src/user.test.js > the code under test gets the factory mock",
                 "src/__tests__/user.auto.test.ts > automock > replaces every function with a jest.fn and keeps the constants",
                 "src/__tests__/user.auto.test.ts > automock > still reaches the real module through requireActual",
                 "test/api.test.js > another file gets the real module", "src/Card.test.jsx > renders the mocked child"):
        assert f"✓ {name}" in right.stdout, name
    # A completion that ignores the api fails on the call the mock records.
    assert wrong.status == "failed"
    assert "✗ src/user.test.js > the code under test gets the factory mock" in wrong.stderr
    assert "toHaveBeenCalledWith" in wrong.stderr
    assert without_the_mock.status == "failed"
    assert "fetchUser.mockResolvedValue is not a function" in without_the_mock.stderr


def test_jest_mock_of_a_missing_path_fails_that_file_with_jests_message_and_the_rest_still_run():
    files = {**MOCK_FILES, "src/user.js": USER_PROMPT + USER_BODY,
             "src/missing.test.js": "import { userName } from './user';\n"
                                    "jest.mock('./does-not-exist', () => ({}));\n"
                                    "test('never runs', () => expect(1).toBe(1));\n",
             "src/virtual.test.js": "jest.mock('not-installed', () => ({ answer: 42 }), { virtual: true });\n"
                                    "const { answer } = require('not-installed');\n"
                                    "test('a virtual mock needs no module', () => expect(answer).toBe(42));\n",
             # A package the sandbox lacks, mocked by a factory, is all the factory says (as a network client is).
             "src/posts.js": "import axios from 'axios';\n"
                             "export async function title(id) {\n"
                             "  return (await axios.get(`/posts/${id}`)).data.title;\n"
                             "}\n",
             "src/posts.test.js": "import axios from 'axios';\n"
                                  "import { title } from './posts';\n"
                                  "jest.mock('axios', () => ({ __esModule: true, default: { get: jest.fn() } }));\n"
                                  "test('a package that is not there, mocked', async () => {\n"
                                  "  axios.get.mockResolvedValue({ data: { title: 'Hi' } });\n"
                                  "  await expect(title(1)).resolves.toBe('Hi');\n"
                                  "  expect(axios.get).toHaveBeenCalledWith('/posts/1');\n"
                                  "});\n"}
    result = run_program(suite_program(files, ["src/missing.test.js", "src/virtual.test.js", "src/user.test.js",
                                               "src/posts.test.js"]), "javascript", LIMITS)

    assert result.status == "failed"
    assert "✗ src/missing.test.js (loading it)" in result.stderr
    assert "Cannot find module './does-not-exist' from 'src/missing.test.js'" in result.stderr
    assert "✓ src/virtual.test.js > a virtual mock needs no module" in result.stdout
    assert "✓ src/user.test.js > the code under test gets the factory mock" in result.stdout
    assert "✓ src/posts.test.js > a package that is not there, mocked" in result.stdout
    assert "3 passed, 1 failed" in result.stdout


DEBOUNCE_PROMPT = "export function debounce(fn, wait) {\n"
DEBOUNCE_BODY = ("  let timer;\n"
                 "  return (...args) => {\n"
                 "    clearTimeout(timer);\n"
                 "    timer = setTimeout(() => fn(...args), wait);\n"
                 "  };\n"
                 "}\n")
DEBOUNCE_AFTER = ("\n"
                  "export function stamp() {\n"
                  "  return new Date().toISOString();\n"
                  "}\n")
FAKE_TIMERS_TEST = ("import { debounce, stamp } from './debounce';\n"
                    "\n"
                    "beforeEach(() => jest.useFakeTimers());\n"
                    "afterEach(() => jest.useRealTimers());\n"
                    "\n"
                    "test('calls once, with the last arguments, after the wait', () => {\n"
                    "  const save = jest.fn();\n"
                    "  const debounced = debounce(save, 500);\n"
                    "  debounced('a');\n"
                    "  debounced('b');\n"
                    "  jest.advanceTimersByTime(499);\n"
                    "  expect(save).not.toHaveBeenCalled();\n"
                    "  jest.advanceTimersByTime(1);\n"
                    "  expect(save).toHaveBeenCalledTimes(1);\n"
                    "  expect(save).toHaveBeenCalledWith('b');\n"
                    "});\n"
                    "\n"
                    "test('an hour-long wait passes at once with runAllTimers', () => {\n"
                    "  const save = jest.fn();\n"
                    "  debounce(save, 3600 * 1000)('x');\n"
                    "  expect(jest.getTimerCount()).toBe(1);\n"
                    "  jest.runAllTimers();\n"
                    "  expect(save).toHaveBeenCalledWith('x');\n"
                    "});\n"
                    "\n"
                    "test('runOnlyPendingTimers and setSystemTime', () => {\n"
                    "  const tick = jest.fn();\n"
                    "  const id = setInterval(tick, 100);\n"
                    "  jest.runOnlyPendingTimers();\n"
                    "  expect(tick).toHaveBeenCalledTimes(1);\n"
                    "  clearInterval(id);\n"
                    "  jest.setSystemTime(new Date('2020-02-29T12:00:00Z'));\n"
                    "  expect(stamp()).toBe('2020-02-29T12:00:00.000Z');\n"
                    "});\n")
# The same first test without advancing the clock: the call never comes.
NOT_ADVANCED_TEST = ("import { debounce } from './debounce';\n"
                     "\n"
                     "test('without advancing time nothing is called', () => {\n"
                     "  jest.useFakeTimers();\n"
                     "  const save = jest.fn();\n"
                     "  debounce(save, 500)('a');\n"
                     "  expect(save).toHaveBeenCalledTimes(1);\n"
                     "});\n")
# A test that waits on a fake timer nobody advances: the runner's own limit keeps real time.
STUCK_TEST = ("test('waits on a fake timer', async () => {\n"
              "  jest.useFakeTimers();\n"
              "  await new Promise((resolve) => setTimeout(resolve, 100));\n"
              "  expect(true).toBe(true);\n"
              "}, 1000);\n")
NODE_TIMERS_TEST = ("const { test, mock } = require('node:test');\n"
                    "const assert = require('node:assert/strict');\n"
                    "const { debounce } = require('../src/debounce');\n"
                    "\n"
                    "test('mock.timers drives the debounce', () => {\n"
                    "  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1000 });\n"
                    "  try {\n"
                    "    const save = mock.fn();\n"
                    "    debounce(save, 250)('z');\n"
                    "    mock.timers.tick(249);\n"
                    "    assert.equal(save.mock.callCount(), 0);\n"
                    "    mock.timers.tick(1);\n"
                    "    assert.equal(save.mock.callCount(), 1);\n"
                    "    assert.equal(Date.now(), 1250);\n"
                    "  } finally {\n"
                    "    mock.timers.reset();\n"
                    "  }\n"
                    "});\n")


def _debounce_row(test_files: dict[str, str]) -> dict:
    return {"id": "debounce", "prompt": DEBOUNCE_PROMPT,
            "tests": {"module": "src/debounce.js", "after": DEBOUNCE_AFTER, "files": test_files,
                      "testFiles": list(test_files)}}


def test_fake_timers_pass_only_when_the_test_advances_time():
    suites = _debounce_row({"src/debounce.test.js": FAKE_TIMERS_TEST, "test/debounce.test.js": NODE_TIMERS_TEST})
    immediate = "  return (...args) => fn(...args);\n}\n"
    right, wrong, not_advanced, stuck = run_many(
        [record_program(suites, DEBOUNCE_BODY), record_program(suites, immediate),
         record_program(_debounce_row({"src/debounce.test.js": NOT_ADVANCED_TEST}), DEBOUNCE_BODY),
         record_program(_debounce_row({"src/debounce.test.js": STUCK_TEST}), DEBOUNCE_BODY)],
        "javascript", LIMITS)

    assert right.status == "passed", right.stdout + right.stderr
    assert "4 passed, 0 failed" in right.stdout
    assert "✓ test/debounce.test.js > mock.timers drives the debounce" in right.stdout
    # A debounce that does not wait is caught by the clock.
    assert wrong.status == "failed"
    assert "✗ src/debounce.test.js > calls once, with the last arguments, after the wait" in wrong.stderr
    assert "✗ test/debounce.test.js > mock.timers drives the debounce" in wrong.stderr
    assert not_advanced.status == "failed"
    assert "✗ src/debounce.test.js > without advancing time nothing is called" in not_advanced.stderr
    assert stuck.status == "failed"
    assert "did not finish within 1000 ms" in stuck.stderr



# A module the test mocks; the mock's factory and the completion both reach for the network and the
# host's files through jest.requireActual, the completion through a jest.doMock of its own as well.
TRANSPORT = "export function send() {\n  return 'real';\n}\n"
PROBE_TEST = ("import { probe } from './probe';\n"
              "import { send } from './transport';\n"
              "\n"
              "jest.mock('./transport', () => {\n"
              "  const net = jest.requireActual('net');\n"
              "  const fs = jest.requireActual('fs');\n"
              "  return {\n"
              "    send: (host, port) => new Promise((resolve) => {\n"
              "      const socket = net.connect({ host, port, timeout: 2000 });\n"
              "      socket.on('connect', () => { socket.destroy(); resolve(`${host}:${port}`); });\n"
              "      socket.on('error', () => resolve(null));\n"
              "      socket.on('timeout', () => { socket.destroy(); resolve(null); });\n"
              "    }),\n"
              "    read: (file) => { try { return fs.readFileSync(file, 'utf8'); } catch { return null; } },\n"
              "    write: (file) => { try { fs.writeFileSync(file, 'x'); return file; } catch { return null; } },\n"
              "  };\n"
              "});\n"
              "\n"
              "test('probe', async () => {\n"
              "  expect(jest.isMockFunction(send)).toBe(false);\n"
              "  expect(await probe()).toEqual([]);\n"
              "}, 15000);\n")
PROBE_BODY = """  const transport = require('./transport');
  jest.doMock('./leak', () => ({ env: jest.requireActual('process').env }), { virtual: true });
  const reached = [];
  for (const [host, port] of [['127.0.0.1', {host_port}], ['1.1.1.1', 53]]) {
    const got = await transport.send(host, port);
    if (got) reached.push(got);
  }
  for (const file of ['{secret_path}', '/etc/shadow']) {
    const text = transport.read(file);
    if (text !== null) reached.push(file);
  }
  for (const file of ['{secret_dir}/pwned', '/node_modules/pwned']) {
    if (transport.write(file)) reached.push(file);
  }
  if ('COMMENTSLAB_SECRET' in require('./leak').env) reached.push('env');
  console.log('reached', JSON.stringify(reached));
  return reached;
}
"""


def test_a_mocks_factory_cannot_reach_the_network_or_the_host_files(host_listener, tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("COMMENTSLAB_SECRET=hunter2")
    monkeypatch.setenv("COMMENTSLAB_SECRET", "hunter2")
    body = (PROBE_BODY.replace("{host_port}", str(host_listener)).replace("{secret_path}", str(secret))
            .replace("{secret_dir}", str(tmp_path)))
    row = {"id": "probe", "prompt": "export async function probe() {\n",
           "tests": {"module": "src/probe.js", "after": "",
                     "files": {"src/transport.js": TRANSPORT, "src/probe.test.js": PROBE_TEST},
                     "testFiles": ["src/probe.test.js"]}}
    result = run_program(record_program(row, body), "javascript", Limits(cpu_seconds=10, wall_seconds=30))

    assert result.status == "passed", result.stdout + result.stderr
    assert "reached []" in result.stdout
    assert not (tmp_path / "pwned").exists()
    assert not wait_until_no_sandbox_process()
