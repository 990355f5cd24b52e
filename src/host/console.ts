/**
 * The serial console on the terminal: guest COM1 output to stdout, stdin to
 * COM1. On a TTY stdin is put in raw mode and Ctrl-A X quits (Ctrl-A Ctrl-A
 * sends a literal Ctrl-A). SIGINT and SIGTERM end the run cleanly.
 */
import type { EndReason, Machine } from "../machine/machine.ts";

export interface ConsoleHandle {
  detach(): void;
}

export function attachConsole(
  m: Machine,
  stop: { requested: EndReason | null },
  opts: { input?: boolean } = {},
): ConsoleHandle {
  const out: number[] = [];
  let flushPending = false;
  const flush = (): void => {
    flushPending = false;
    if (out.length > 0) {
      process.stdout.write(Uint8Array.from(out));
      out.length = 0;
    }
  };
  m.serialListeners.push((b) => {
    out.push(b);
    if (out.length >= 4096) flush();
    else if (!flushPending) {
      flushPending = true;
      setImmediate(flush);
    }
  });
  const onSignal = (): void => {
    stop.requested = "interrupted";
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const stdin = process.stdin;
  const useInput = opts.input !== false;
  const tty = useInput && stdin.isTTY === true;
  let sawCtrlA = false;
  const onData = (chunk: Buffer): void => {
    const bytes: number[] = [];
    for (const b of chunk) {
      if (tty) {
        if (sawCtrlA) {
          sawCtrlA = false;
          if (b === 0x78 || b === 0x58) {
            stop.requested = "interrupted";
            continue;
          }
          if (b !== 0x01) continue;
        } else if (b === 0x01) {
          sawCtrlA = true;
          continue;
        }
      }
      bytes.push(b);
    }
    m.injectSerial(bytes);
  };
  if (useInput) {
    if (tty) stdin.setRawMode(true);
    stdin.on("data", onData);
    stdin.on("error", () => {});
  }
  return {
    detach(): void {
      flush();
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      if (useInput) {
        stdin.off("data", onData);
        if (tty) stdin.setRawMode(false);
        stdin.pause();
      }
    },
  };
}
