// Bundles the Action (dist/index.js, and dist/post.js for its `post:` step) and the CLI with
// esbuild. The Action runs dist/ as committed, so `--check` rebuilds in memory and fails when
// dist/ is stale. The CLI is two files: dist/cli.js checks the Node version with nothing heavy
// loaded (an old Node crashes while loading the dependencies), then imports dist/cli-main.js.
//   node scripts/bundle.mjs                write dist/
//   node scripts/bundle.mjs --check        compare only; exit 1 naming the stale files
//   node scripts/bundle.mjs --outdir DIR   write to DIR instead of dist/ (tests run the bundle)
//   node scripts/bundle.mjs --check --from DIR   compare DIR (a bundle built by --outdir) instead
//                                          of building again (scripts/test.sh builds once per run)
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// Some dependencies are CommonJS and call require() for Node built-ins; an ESM bundle has no
// require of its own, so give it one.
const requireShim = "import { createRequire as __safeDrainCreateRequire } from 'node:module';\nconst require = __safeDrainCreateRequire(import.meta.url);";

const outdirAt = process.argv.indexOf('--outdir');
const outdir = outdirAt === -1 ? 'dist' : process.argv[outdirAt + 1];
if (!outdir) {
  console.error('--outdir needs a directory');
  process.exit(2);
}

/** The version-check entry imports the CLI as a separate file, loaded only on a supported Node. */
const cliMainAsSibling = {
  name: 'cli-main-as-sibling',
  setup(build) {
    build.onResolve({ filter: /^\.\/main\.js$/ }, (args) =>
      args.importer.endsWith(join('src', 'cli', 'index.ts')) ? { path: './cli-main.js', external: true } : undefined,
    );
  },
};

/**
 * client-node's modules as free of side effects at load, so that what the engine does not use is
 * left out: its package index re-exports every generated API class and model (~5 MB, loaded
 * and evaluated on every start) though the engine uses only KubeConfig and ApiException. Its
 * one module with an effect at load, polyfill.js (a File global for Node 18), has nothing to
 * do on Node 24.
 */
const clientNodeWithoutSideEffects = {
  name: 'client-node-without-side-effects',
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData?.resolving) return undefined;
      if (!args.path.startsWith('@kubernetes/client-node') && !args.importer.includes('/@kubernetes/client-node/dist/')) return undefined;
      const resolved = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { resolving: true } });
      if (resolved.errors.length > 0 || !resolved.path.includes('/@kubernetes/client-node/dist/')) return resolved.errors.length > 0 ? { errors: resolved.errors } : resolved;
      return { path: resolved.path, sideEffects: false };
    });
  },
};

const targets = [
  { entry: 'src/action/index.ts', outfile: 'index.js', banner: requireShim, executable: false },
  { entry: 'src/action/post-entry.ts', outfile: 'post.js', banner: requireShim, executable: false },
  { entry: 'src/cli/index.ts', outfile: 'cli.js', banner: '#!/usr/bin/env node', executable: true, plugins: [cliMainAsSibling] },
  { entry: 'src/cli/main.ts', outfile: 'cli-main.js', banner: requireShim, executable: false },
].map((t) => ({ ...t, outfile: join(outdir, t.outfile) }));

async function bundle(target) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [target.entry],
    outfile: target.outfile,
    plugins: [...(target.plugins ?? []), clientNodeWithoutSideEffects],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    banner: { js: target.banner },
    minify: false, // dist/ is committed: keep its diffs reviewable
    // Paths of dependencies appear in the bundle; a worktree whose node_modules is a link to
    // another checkout's must produce the same bytes as that checkout (check-dist compares them).
    preserveSymlinks: true,
    legalComments: 'none',
    sourcemap: false,
    write: false,
    logLevel: 'warning',
  });
  const [output] = result.outputFiles;
  return { ...target, contents: Buffer.from(asciiOnly(output.text), 'utf8') };
}

/**
 * esbuild writes strings and names as ASCII but keeps the dependencies' comments as they are,
 * and one non-Latin-1 character in a comment (U+2019 in undici's) makes V8 hold the whole
 * ~7.5 MB bundle source, which it keeps for lazy compilation, as a two-byte string: ~15 MB of
 * every run's heap instead of ~7.5 MB. Whatever is left outside ASCII is escaped (inert in a
 * comment, and the same value anywhere else).
 */
function asciiOnly(text) {
  return text.replace(/[\u0080-\u{10ffff}]/gu, (c) => {
    const code = c.codePointAt(0);
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

function readOrNull(path) {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}

const fromAt = process.argv.indexOf('--from');
const from = fromAt === -1 ? undefined : process.argv[fromAt + 1];
if (fromAt !== -1 && !from) {
  console.error('--from needs a directory');
  process.exit(2);
}
const bundles = from
  ? targets.map((t) => ({ ...t, contents: readFileSync(join(from, basename(t.outfile))) }))
  : await Promise.all(targets.map(bundle));

if (process.argv.includes('--check')) {
  const stale = bundles.filter((b) => {
    const committed = readOrNull(resolve(root, b.outfile));
    return committed === null || !committed.equals(b.contents);
  });
  if (stale.length > 0) {
    console.error(`dist/ is out of date with the sources: ${stale.map((b) => b.outfile).join(', ')}.`);
    console.error('Run `npm run bundle` and commit dist/.');
    process.exit(1);
  }
  console.log(`dist/ is up to date (${bundles.map((b) => b.outfile).join(', ')}).`);
} else {
  for (const b of bundles) {
    const path = resolve(root, b.outfile);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, b.contents);
    if (b.executable) chmodSync(path, 0o755);
    console.log(`${relative(root, path)}: ${(b.contents.length / 1024).toFixed(0)} KiB`);
  }
}
