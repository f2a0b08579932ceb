/**
 * Bundles the agent runner into one self-contained ESM file, dist/runner.js
 * (the pod's /opt/closedpaw/runner.js): main.ts with every dependency inlined
 * (ollama, zod, the shared api/ modules); only node: builtins stay imports.
 * Not minified, so a stack trace still names real functions. The `ollama`
 * client's browser fetch polyfill (whatwg-fetch) is left out: Node has fetch,
 * and the runner passes its own anyway.
 *
 *   vite build --config operator/src/runner/vite.config.ts
 */
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const EMPTY = '\0closedpaw-empty-module';
const dropBrowserPolyfill: Plugin = {
  name: 'closedpaw-drop-whatwg-fetch',
  enforce: 'pre',
  resolveId: (id) => (id === 'whatwg-fetch' ? EMPTY : null),
  load: (id) => (id === EMPTY ? 'export {};' : null),
};

const repo = fileURLToPath(new URL('../../..', import.meta.url));

export default defineConfig({
  root: repo,
  publicDir: false,
  plugins: [dropBrowserPolyfill],
  logLevel: 'warn',
  ssr: { noExternal: true, target: 'node' },
  build: {
    ssr: 'operator/src/runner/main.ts',
    outDir: 'dist',
    emptyOutDir: false,
    target: 'node24',
    minify: false,
    sourcemap: false,
    copyPublicDir: false,
    reportCompressedSize: false,
    rolldownOptions: {
      output: { format: 'es', entryFileNames: 'runner.js', codeSplitting: false },
    },
  },
});
