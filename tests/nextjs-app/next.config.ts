import type { NextConfig } from 'next';

// Nothing for the real-time layer: the package brings its .wasm itself.
// The root is pinned only because the repository around this folder has
// lock files of its own.
const nextConfig: NextConfig = {
  turbopack: { root: __dirname },
};

export default nextConfig;
