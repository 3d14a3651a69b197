"""Hostile programs for the sandbox's adversarial suite: each with the status it must end with.

Shared by the unit suite (in-process sandbox) and the integration suite (through the gRPC server).
Every probe that *could* do harm reports what it managed on stdout, so a test can assert it managed
nothing; `{secret_path}` and `{host_pid}` are filled in by the test.
"""

FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""

MEMORY_BOMB = """
blocks = []
while True:
    blocks.append(bytearray(10**7))
"""

INFINITE_LOOP = """
while True:
    pass
"""

FILL_THE_DISK = """
import os
written = 0
try:
    for i in range(10_000):
        with open(f"fill{i}", "wb") as handle:
            handle.write(b"x" * (4 << 20))
        written += 4
finally:
    print("written MiB", written, flush=True)
"""

ONE_HUGE_FILE = """
with open("huge", "wb") as handle:
    for _ in range(1000):
        handle.write(b"x" * (1 << 20))
"""

NETWORK = """
import socket
reached = []
for host, port in (("1.1.1.1", 53), ("8.8.8.8", 443), ("127.0.0.1", {host_port})):
    try:
        socket.create_connection((host, port), timeout=2).close()
        reached.append(f"{{host}}:{{port}}")
    except OSError:
        pass
try:
    socket.getaddrinfo("pypi.org", 443)
    reached.append("dns")
except OSError:
    pass
print("reached", reached)
"""

HOST_FILES_AND_SECRETS = """
import glob, os
found = []
for path in ("/etc/passwd", "/etc/shadow", "/root/.bashrc", "/root/.ssh", "{secret_path}", "/work", "/home",
             "/var", "/proc/1/environ"):
    try:
        if os.path.isdir(path):
            found.append((path, os.listdir(path)))
        else:
            with open(path, "rb") as handle:
                data = handle.read()
            if path != "/proc/1/environ" or b"COMMENTSLAB_SECRET" in data:
                found.append((path, len(data)))
    except OSError:
        pass
for environ in glob.glob("/proc/*/environ"):
    try:
        if b"COMMENTSLAB_SECRET" in open(environ, "rb").read():
            found.append((environ, "secret"))
    except OSError:
        pass
if "COMMENTSLAB_SECRET" in os.environ:
    found.append(("environ", "secret"))
print("found", found)
"""

KILL_THE_PARENT = """
import os, signal
for target in ({host_pid}, os.getppid(), 1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
try:
    os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)
except OSError:
    pass
# kill(-1) reaches every process this uid may signal (all but itself): none of the host's.
os.kill(-1, signal.SIGKILL)
print("still here", flush=True)
"""

GIGABYTES_OF_OUTPUT = """
import sys
chunk = "x" * (1 << 20)
while True:
    sys.stdout.write(chunk)
"""

DEEP_RECURSION = """
def down(n):
    return down(n + 1)
down(0)
"""

# Python-to-Python calls no longer use the C stack (3.11); recursion through a C function (map) does.
DEEP_RECURSION_PAST_THE_C_STACK = """
import sys
sys.setrecursionlimit(10**8)
def down(n):
    return list(map(down, [n + 1]))
down(0)
"""

SEGFAULT = """
import ctypes
ctypes.string_at(0)
"""

# name -> (program, status it must end with)
ATTACKS = {
    "fork bomb": (FORK_BOMB, "timeout"),
    "memory bomb": (MEMORY_BOMB, "memory"),
    "infinite loop": (INFINITE_LOOP, "timeout"),
    "disk filling": (FILL_THE_DISK, "failed"),
    "one huge file": (ONE_HUGE_FILE, "failed"),
    "network": (NETWORK, "passed"),
    "host files and secrets": (HOST_FILES_AND_SECRETS, "passed"),
    "kill the parent": (KILL_THE_PARENT, "passed"),
    "gigabytes of output": (GIGABYTES_OF_OUTPUT, "timeout"),
    "deep recursion": (DEEP_RECURSION, "failed"),
    "deep recursion past the C stack": (DEEP_RECURSION_PAST_THE_C_STACK, "crashed"),
    "segfault": (SEGFAULT, "crashed"),
}

# JavaScript completions of `async function probe()` (its test expects `[]`): each reports on stdout what it managed.
JS_FORK_BOMB = """
  const { spawn } = require("child_process");
  for (;;) {
    try {
      spawn("/usr/bin/node", ["-e", "setInterval(() => {}, 1000)"]).on("error", () => {});
    } catch {}
  }
"""

JS_MEMORY_BOMB = """
  const blocks = [];
  for (;;) blocks.push(Buffer.alloc(64 << 20, 1));
"""

JS_INFINITE_LOOP = """
  for (;;) {}
"""

JS_NETWORK = """
  const net = require("net");
  const reached = [];
  for (const [host, port] of [["1.1.1.1", 53], ["8.8.8.8", 443], ["127.0.0.1", {host_port}]]) {
    await new Promise((resolve) => {
      const socket = net.connect({ host, port, timeout: 2000 });
      socket.on("connect", () => { reached.push(`${host}:${port}`); socket.destroy(); resolve(); });
      socket.on("error", resolve);
      socket.on("timeout", () => { socket.destroy(); resolve(); });
    });
  }
  try {
    await require("dns").promises.lookup("registry.npmjs.org");
    reached.push("dns");
  } catch {}
  console.log("reached", JSON.stringify(reached));
  return reached;
"""

JS_HOST_FILES_AND_SECRETS = """
  const fs = require("fs");
  const found = [];
  for (const path of ["/etc/passwd", "/etc/shadow", "/root/.bashrc", "/root/.ssh", "{secret_path}", "/work", "/home",
                      "/var"]) {
    try {
      found.push([path, fs.statSync(path).isDirectory() ? fs.readdirSync(path).length : fs.readFileSync(path).length]);
    } catch {}
  }
  for (const pid of fs.readdirSync("/proc").filter((name) => /^\\d+$/.test(name))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/environ`, "latin1").includes("COMMENTSLAB_SECRET")) found.push([pid, "secret"]);
    } catch {}
  }
  if ("COMMENTSLAB_SECRET" in process.env) found.push(["env", "secret"]);
  console.log("found", JSON.stringify(found));
  return found;
"""

JS_WRITING_OUTSIDE = """
  const fs = require("fs");
  const written = [];
  const secretFolder = require("path").dirname("{secret_path}");
  for (const path of ["/node_modules/expect/pwned", "/usr/pwned", "/pwned", "/sandbox/pwned", `${secretFolder}/pwned`,
                      "/proc/pwned", "../pwned"]) {
    try {
      fs.writeFileSync(path, "x");
      written.push(path);
    } catch {}
  }
  console.log("written", JSON.stringify(written));
  return written;
"""

JS_KILL_THE_PARENT = """
  for (const target of [{host_pid}, process.ppid, 1]) {
    try {
      process.kill(target, "SIGKILL");
    } catch {}
  }
  console.log("still here");
  return [];
"""

# name -> (completion, status it must end with)
JS_ATTACKS = {
    "fork bomb": (JS_FORK_BOMB, "timeout"),
    "memory bomb": (JS_MEMORY_BOMB, "memory"),
    "infinite loop": (JS_INFINITE_LOOP, "timeout"),
    "network": (JS_NETWORK, "passed"),
    "host files and secrets": (JS_HOST_FILES_AND_SECRETS, "passed"),
    "writing outside": (JS_WRITING_OUTSIDE, "passed"),
    "kill the parent": (JS_KILL_THE_PARENT, "passed"),
}
