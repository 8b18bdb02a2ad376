import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The generated glue lives in pkg/, not beside the sources: tests hand the
  // loader a fake module (test/fake.ts), and this stub is never called.
  resolve: { alias: [{ find: /^\.\/stellar_insights_ws\.js$/, replacement: fileURLToPath(new URL('./test/glue-stub.ts', import.meta.url)) }] },
  test: { environment: 'jsdom', include: ['test/**/*.test.{ts,tsx}'], globals: true },
});
