import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The client is served by the gateway from dist/; in `npm run dev` Vite proxies the API and
// WebSockets to a gateway on :8080.
export default defineConfig({
  root: 'client',
  plugins: [react()],
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: {
      '/api': 'http://localhost:8080',
      '/sip': { target: 'ws://localhost:8080', ws: true },
      '/xmpp': { target: 'ws://localhost:8080', ws: true },
      '/sfu': { target: 'ws://localhost:8080', ws: true },
      '/http-bind': 'http://localhost:8080',
      '/upload': 'http://localhost:8080',
      '/healthz': 'http://localhost:8080',
    },
  },
});
