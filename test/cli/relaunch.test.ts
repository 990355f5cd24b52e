/**
 * bin/relaunch.mjs: the launcher that restarts node with a smaller V8 compiler pool. A probe
 * script stands in for bin/retrace so that the child's node options, exit status and signals
 * can be observed directly.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { ROOT, tempDir } from "./helpers.ts";

const dir = tempDir("relaunch");
const probe = join(dir, "probe.mjs");
writeFileSync(
  probe,
  `import { writeFileSync } from "node:fs";
import { relaunch } from ${JSON.stringify(pathToFileURL(join(ROOT, "bin", "relaunch.mjs")).href)};
if (!relaunch(new URL(import.meta.url).pathname)) {
  const [mode, out] = process.argv.slice(2);
  writeFileSync(out, JSON.stringify({ pid: process.pid, ppid: process.ppid, execArgv: process.execArgv }));
  if (mode === "exit") process.exitCode = 7;
  else if (mode === "wait") setInterval(() => {}, 1000);
  else if (mode === "sigint") process.on("SIGINT", () => process.exit(42)), setInterval(() => {}, 1000);
}
`,
);

let runs = 0;
function run(mode: string, env: Record<string, string>) {
  const out = join(dir, `${mode}-${runs++}.json`);
  const child = spawn(process.execPath, [probe, mode, out], {
    env: { ...process.env, NODE_OPTIONS: "", ...env },
    stdio: "ignore",
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on("exit", (code, signal) => res({ code, signal })),
  );
  const report = async (): Promise<{ pid: number; ppid: number; execArgv: string[] }> => {
    for (let i = 0; i < 200 && !existsSync(out); i++) await new Promise((r) => setTimeout(r, 25));
    return JSON.parse(readFileSync(out, "utf8"));
  };
  return { child, done, report };
}

/** Is `pid` running (a zombie left for a reaper counts as gone)? */
const alive = (pid: number): boolean => {
  if (existsSync("/proc/self/stat")) {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("bin/relaunch.mjs", () => {
  it("relaunch_forcedPoolSize_childRunsWithItAndItsExitStatusIsTheLaunchers", async () => {
    const { child, done, report } = run("exit", { RETRACE_V8_POOL_SIZE: "1" });
    const r = await report();
    expect(r.execArgv).toContain("--v8-pool-size=1");
    expect(r.ppid).toBe(child.pid);
    expect(await done).toEqual({ code: 7, signal: null });
  }, 20_000);

  it("relaunch_zeroOrAnExplicitPoolSize_runsInTheSameProcess", async () => {
    for (const env of [
      { RETRACE_V8_POOL_SIZE: "0", NODE_OPTIONS: "" },
      { RETRACE_V8_POOL_SIZE: "1", NODE_OPTIONS: "--v8-pool-size=2" },
    ]) {
      const { child, done, report } = run("exit", env);
      const r = await report();
      expect(r.pid).toBe(child.pid);
      expect(r.execArgv.some((a) => a.startsWith("--v8-pool-size"))).toBe(false);
      expect((await done).code).toBe(7);
    }
  }, 20_000);

  it("relaunch_signalToTheLauncher_reachesTheChild", async () => {
    const { child, done, report } = run("sigint", { RETRACE_V8_POOL_SIZE: "1" });
    const r = await report();
    expect(r.pid).not.toBe(child.pid);
    child.kill("SIGINT");
    expect(await done).toEqual({ code: 42, signal: null });
  }, 20_000);

  it("relaunch_launcherKilled_childDiesToo", async () => {
    const { child, done, report } = run("wait", { RETRACE_V8_POOL_SIZE: "1" });
    const r = await report();
    expect(alive(r.pid)).toBe(true);
    child.kill("SIGKILL");
    expect((await done).signal).toBe("SIGKILL");
    let gone = false;
    for (let i = 0; i < 200 && !gone; i++) {
      gone = !alive(r.pid);
      if (!gone) await new Promise((res) => setTimeout(res, 25));
    }
    expect(gone).toBe(true);
  }, 20_000);
});
