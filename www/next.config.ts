import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NextConfig } from 'next';

// The .wasm is served from public/ at a fixed path (see scripts/copy-wasm.mjs);
// its content hash in the URL keeps browsers from running a stale binary.
const wasmPath = join(__dirname, '..', 'pkg', 'stellar_insights_ws_bg.wasm');
const wasmHash = existsSync(wasmPath) ? createHash('sha256').update(readFileSync(wasmPath)).digest('hex').slice(0, 16) : 'missing';

const nextConfig: NextConfig = {
  // A static export: stellar-insights-server serves www/out at `/`, so the
  // whole product runs as one process on one port.
  output: 'export',
  // Default for the App Router already; stated because the e2e suite relies on
  // `next dev` double-mounting effects to prove one socket per page.
  reactStrictMode: true,
  // The e2e suite opens the dev server as 127.0.0.1 (same host as the API server).
  allowedDevOrigins: ['127.0.0.1'],
  images: { unoptimized: true },
  env: { NEXT_PUBLIC_WASM_HASH: wasmHash },
  turbopack: { root: __dirname },
  experimental: {
    // node_modules/stellar-insights-ws is a symlink to ../pkg (the wasm-pack
    // output, `file:../pkg`). Turbopack resolves nothing outside its root, and
    // widening the root to the repository would make it watch target/.
    turbopackAdditionalRoots: { wasmPkg: { path: join(__dirname, '..', 'pkg') } },
  },
};

export default nextConfig;
