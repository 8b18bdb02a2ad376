// `GET /api/ingest/corridors` as the real server answered it (INGEST=horizon
// against www/e2e/fake-horizon.mjs with the fixture of www/e2e/horizon.test.mjs),
// copied verbatim, so the unit tests read the server's shape, not a guess.
import type { IngestCorridor } from '@/lib/api';

export const INGEST_JSON = '[{"corridor_key":"EURC:GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6SJY4ITNPP2->EURC:GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6SJY4ITNPP2","top_failure_reason":null,"window_1h":{"attempts":1,"failures":{},"success_rate":100.0,"successes":1,"unpriced":1,"volume_usd":0.0},"window_24h":{"attempts":1,"failures":{},"success_rate":100.0,"successes":1,"unpriced":1,"volume_usd":0.0}},{"corridor_key":"USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN->USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN","top_failure_reason":"op_underfunded","window_1h":{"attempts":2,"failures":{"op_underfunded":1},"success_rate":50.0,"successes":1,"unpriced":0,"volume_usd":10.0},"window_24h":{"attempts":2,"failures":{"op_underfunded":1},"success_rate":50.0,"successes":1,"unpriced":0,"volume_usd":10.0}},{"corridor_key":"XLM:native->USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN","top_failure_reason":"op_too_few_offers","window_1h":{"attempts":2,"failures":{"op_too_few_offers":1},"success_rate":50.0,"successes":1,"unpriced":0,"volume_usd":9.9},"window_24h":{"attempts":2,"failures":{"op_too_few_offers":1},"success_rate":50.0,"successes":1,"unpriced":0,"volume_usd":9.9}}]';

export const INGEST: IngestCorridor[] = JSON.parse(INGEST_JSON) as IngestCorridor[];

/** The fixture's row for `key` (throws when missing). */
export function ingestRow(key: string): IngestCorridor {
  const row = INGEST.find((r) => r.corridor_key === key);
  if (!row) throw new Error(`${key} is not in the fixture`);
  return row;
}

export const USDC = 'USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN';
export const EURC = 'EURC:GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6SJY4ITNPP2';
