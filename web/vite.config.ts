import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev -w web` forwards the web API to a running proxy (the demo's by default).
const proxy = process.env.JUMPGATE_PROXY ?? "https://localhost:3080";

// The proxy serves dist/ at /web/ with hashed files under /web/assets/.
export default defineConfig({
  base: "/web/",
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    // Never inline assets as data: URLs (the CSP allows only 'self').
    assetsInlineLimit: 0,
    // Strict CSP (script-src 'self'): no inline module-preload polyfill.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      // The proxy checks Origin on sign-in and WebSockets: present its own.
      "/webapi": { target: proxy, secure: false, ws: true, changeOrigin: true, headers: { origin: proxy } },
    },
  },
});
