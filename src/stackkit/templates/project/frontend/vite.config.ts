/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig } from "vite";

// `npm run dev` serves the app on http://localhost:5173 and forwards API calls to
// `stackkit run` (http://127.0.0.1:8000), so pages and API share one origin and the
// refresh cookie (Path=/api/auth, SameSite=Strict) works as in production. The Host
// header is passed on unchanged (no changeOrigin), so the API sees the same origin in
// Host and Origin and accepts the cookie-based refresh.
const api = "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    proxy: {
      "/api": { target: api },
      "/healthz": { target: api },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Every browser that runs this app supports <link rel="modulepreload">.
    modulePreload: { polyfill: false },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
    setupFiles: ["src/test/setup.ts"],
    testTimeout: 15_000,
  },
});
