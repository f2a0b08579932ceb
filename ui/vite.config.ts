/**
 * Builds the approval UI into ui/dist as plain static files, served by the
 * operator's loopback-only fastify. No external URLs, no inline scripts (the
 * server's CSP is `default-src 'self'`), relative asset paths.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: 'public',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // Everything as files: data: URLs would need a looser CSP.
    assetsInlineLimit: 0,
    // The polyfill is dead weight for the browsers this targets.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  oxc: { jsx: { runtime: 'automatic' } },
});
