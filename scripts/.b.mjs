import { build } from 'esbuild';
const pure = { name: 'pure', setup(b) {
  b.onResolve({ filter: /.*/ }, async (args) => {
    if (args.pluginData?.inner) return undefined;
    if (!(args.importer.includes('@kubernetes/client-node') || args.path.startsWith('@kubernetes/client-node'))) return undefined;
    const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { inner: true } });
    if (r.errors.length) return { errors: r.errors };
    return r.path.includes('/@kubernetes/client-node/dist/') ? { path: r.path, external: r.external, sideEffects: false } : r;
  });
} };
const r = await build({ absWorkingDir: '/work/main', entryPoints: [process.argv[2]], bundle: true, platform: 'node', format: 'esm', target: 'node24', outfile: process.argv[3], logLevel: 'error', plugins: [pure], metafile: true, banner: { js: "import { createRequire as __c } from 'node:module'; const require = __c(import.meta.url);" } });
console.log(Object.values(r.metafile.outputs)[0].bytes);
