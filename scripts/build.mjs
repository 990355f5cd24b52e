#!/usr/bin/env node
/**
 * `npm run build` (also run by `prepare`, so `npm ci` builds it): bundle the
 * command line and the benchmark with esbuild into dist/.
 *
 * Why: tsx compiles each file on its own, so a `const enum` imported from
 * another module (Op, F, Seg, Reg, Tlb, Vec...) stays a property load at run
 * time and a `switch` over such members cannot become a jump table. Bundling
 * inlines them: about +12-30 % on the CPU loop (PERFORMANCE.md habit: measure).
 *
 * bin/retrace uses dist/retrace.mjs only when it is newer than every file in
 * src/, and falls back to the sources through tsx otherwise, so editing src/
 * never runs stale code. `npm test` always runs the sources.
 *
 * A bundle has one `import.meta.url` for all its modules; the few modules that
 * locate files from their own path (PROJECT_ROOT) get theirs rewritten to the
 * original file's location relative to the bundle, so dist/ stays relocatable.
 */
import { readFile } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = resolve(root, "dist");

let esbuild;
try {
  esbuild = await import("esbuild");
} catch {
  console.error("build: esbuild is not installed; bin/retrace will run the sources through tsx");
  process.exit(0);
}

/** Rewrite `import.meta.url` in each bundled source to the URL of that source, relative to the bundle. */
const ownUrl = {
  name: "own-import-meta-url",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, "utf8");
      if (!text.includes("import.meta.url")) return undefined;
      const rel = relative(outdir, args.path).split("\\").join("/");
      return {
        contents: text.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, import.meta.url).href`),
        loader: "ts",
      };
    });
  },
};

await esbuild.build({
  absWorkingDir: root,
  entryPoints: { retrace: "src/cli/main.ts", bench: "scripts/bench.ts", phases: "scripts/linux-phases.ts" },
  outdir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: "linked",
  logLevel: "warning",
  plugins: [ownUrl],
});
