import type { NextConfig } from 'next';

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
  // The repository around www/ has lock files of its own.
  turbopack: { root: __dirname },
};

export default nextConfig;
