// Runs the emulator in a node whose V8 compiler thread pool fits the machine.
//
// V8 optimises hot functions with TurboFan on a pool of background threads, four by default
// (node's --v8-pool-size). retrace compiles guest code to JavaScript, so V8 has thousands of
// large functions to optimise; on a two-core machine four compiler threads take most of the
// core the emulator's main thread runs on. Measured on the Linux guest boot (AMD EPYC, 2 cores):
// 30.5-34.6 s with one compiler thread against 33.7-40.3 s with four in a quiet hour, and
// 40-41 s against 54-64 s in a busy one. Lowering the threads' priority instead does not help
// (38.7-40.5 s): four jobs sharing one core each take four times as long to land.
//
// The pool size can only be set when node starts, so the launcher starts node again with
// --v8-pool-size = cores - 1 (1 to 4) unless the user chose one (--v8-pool-size in the node
// options or NODE_OPTIONS, or RETRACE_V8_POOL_SIZE: a number, 0 to keep node's default).
// The parent only waits: it forwards SIGINT, SIGTERM and SIGHUP, and exits as the child did.
// The child kills itself if the parent disappears (an IPC channel that closes with it), so a
// launcher killed with SIGKILL does not leave a capture running behind it.
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";

const FLAG = "--v8-pool-size";
const MARK = "RETRACE_LAUNCHER_PID";

/** The pool size to relaunch with, or null to run in this process. */
function wantedPoolSize() {
  if (process.env[MARK] !== undefined) return null;
  if (process.execArgv.some((a) => a.startsWith(FLAG))) return null;
  if ((process.env.NODE_OPTIONS ?? "").includes(FLAG)) return null;
  const forced = process.env.RETRACE_V8_POOL_SIZE;
  if (forced !== undefined && forced !== "") {
    const n = Number(forced);
    if (!Number.isInteger(n) || n < 0) return null;
    return n === 0 ? null : n;
  }
  const n = Math.min(4, Math.max(1, availableParallelism() - 1));
  return n === 4 ? null : n; // node's default already
}

/**
 * Relaunch `script` (this process's entry file) with a fitting pool size. Returns true when a
 * child runs the command (this process then exits as it does), false when this process should.
 */
export function relaunch(script) {
  if (process.env[MARK] !== undefined && process.channel !== undefined) {
    // The child: the IPC channel closes when the launcher dies, whatever killed it.
    process.channel.unref();
    process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));
    return false;
  }
  const pool = wantedPoolSize();
  if (pool === null) return false;
  const child = spawn(process.execPath, [...process.execArgv, `${FLAG}=${pool}`, script, ...process.argv.slice(2)], {
    stdio: ["inherit", "inherit", "inherit", "ipc"],
    env: { ...process.env, [MARK]: String(process.pid) },
  });
  const forward = (sig) => child.kill(sig);
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const sig of signals) process.on(sig, forward);
  child.on("error", (e) => {
    process.stderr.write(`retrace: cannot start ${process.execPath}: ${e.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    for (const sig of signals) process.off(sig, forward);
    if (signal !== null) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
  return true;
}
