/**
 * Bundles the operator (main.ts) into dist/operator-bundle/: main.js plus the chunks it loads on demand
 * (the approval UI server, the chat channels). Dependencies are inlined and tree-shaken; only `node:`
 * builtins stay imports. Minified, because the operator keeps every module's source text in memory for
 * as long as it runs (V8 compiles lazily and needs it): a third of the unbundled source, and several MB of
 * resident memory less. Function and class names are kept, so stack traces in logs stay readable; source
 * maps are written beside the chunks for `node --enable-source-maps`. Non-ASCII characters are escaped, so
 * V8 holds each chunk's source as one byte per character, not two.
 *
 *   vite build --config operator/src/vite.config.ts
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { OPERATOR_BUNDLE_DIR } from './launch.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));

export default defineConfig({
  root: repo,
  publicDir: false,
  logLevel: 'warn',
  ssr: { noExternal: true, target: 'node' },
  build: {
    ssr: 'operator/src/main.ts',
    outDir: OPERATOR_BUNDLE_DIR,
    emptyOutDir: true,
    target: 'node24',
    sourcemap: true,
    copyPublicDir: false,
    reportCompressedSize: false,
    rolldownOptions: {
      output: {
        format: 'es',
        entryFileNames: 'main.js',
        chunkFileNames: '[name]-[hash].js',
        minify: true,
        keepNames: true,
        charset: 'ascii',
      },
    },
  },
});
