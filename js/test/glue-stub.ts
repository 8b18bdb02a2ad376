// Stands in for pkg/stellar_insights_ws.js under Vitest (see vitest.config.mts).
export default function init(): never {
  throw new Error('the real glue is not loaded in unit tests: use setLoader() with test/fake.ts');
}
