/**
 * Let the event loop turn before every test. Vitest's worker talks to the main process over
 * RPC with a 60 s timeout, and a run of synchronous tests (the CPU suites are) never yields
 * a macrotask: the replies wait unprocessed until the timeout fires, failing the run.
 */
import { beforeEach } from "vitest";

beforeEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
