import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The page only; `server/main.ts` serves the build next to freshgraph (`npm run example`). */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true },
});
