// Copies the wasm binary of the generated `stellar-insights-ws` package into
// public/wasm/ so the static export serves it at a fixed URL that the shim
// hands to `init()`. Passing an explicit URL keeps the bundler (Turbopack)
// out of the business of locating the .wasm, which is what makes the static
// export load it reliably.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, '..', '..', 'pkg', 'stellar_insights_ws_bg.wasm');
const targetDir = join(here, '..', 'public', 'wasm');

if (!existsSync(source)) {
  console.error(
    `copy-wasm: ${source} is missing. Build the wasm package first: ` +
      '`wasm-pack build --target web` at the repository root.',
  );
  process.exit(1);
}
mkdirSync(targetDir, { recursive: true });
copyFileSync(source, join(targetDir, 'stellar_insights_ws_bg.wasm'));
console.log('copy-wasm: public/wasm/stellar_insights_ws_bg.wasm updated');
