// The console (/console) and the member portal (/portal); the widget (/widget.js) is built on its
// own (web/scripts/build.ts) as one self-contained script a shop page loads with a plain tag.
import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = import.meta.dirname;

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: resolve(root, 'dist'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rolldownOptions: {
      input: { console: resolve(root, 'console/index.html'), portal: resolve(root, 'portal/index.html') },
    },
  },
});
