// `process.env.NEXT_PUBLIC_*` is replaced at build time by Next.js; elsewhere
// `process` may not exist (client.ts guards every read).
declare const process: { env: Record<string, string | undefined> };
