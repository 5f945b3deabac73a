// The text `tollgate start` prints for a newcomer: ready-to-paste curl lines. Pure, so it is tested as text.
import type { SeedRecord } from './home.js';
import { DEMO } from './seed.js';

export interface Endpoints {
  proxyUrl: string;
  controlUrl: string;
  tokensPath: string;
}

const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

export function adminTokenLine(e: Endpoints, generatedToken?: string): string {
  return generatedToken !== undefined
    ? `export TOLLGATE_ADMIN_TOKEN=${q(generatedToken)}   # generated now, kept in ${e.tokensPath}`
    : `export TOLLGATE_ADMIN_TOKEN="$(node -p "require(${JSON.stringify(e.tokensPath)}).admin")"`;
}

export function curlLines(e: Endpoints, seed: SeedRecord, key: string | undefined): string[] {
  const url = `${e.proxyUrl}${DEMO.pathPrefix}/hello`;
  const keyRef = '$TOLLGATE_DEMO_KEY';
  const lines = [
    key === undefined
      ? `# the demo key was shown on first start only (never stored). New one:\nexport TOLLGATE_DEMO_KEY="$(curl -s -X POST -H "authorization: Bearer $TOLLGATE_ADMIN_TOKEN" -H 'content-type: application/json' -d ${q(JSON.stringify({ planId: seed.planId }))} ${e.controlUrl}/v1/consumers/${seed.consumerId}/keys | node -p 'JSON.parse(require("fs").readFileSync(0)).key')"`
      : `export TOLLGATE_DEMO_KEY=${q(key)}   # the demo key: shown this once, never stored`,
    `# allowed (200, echo of what the upstream received):`,
    `curl -i -H "x-api-key: ${keyRef}" ${url}`,
    `# over quota (${DEMO.limit.requests}/${DEMO.limit.per}: the last ones get 429 with Retry-After):`,
    `for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code}\\n' -H "x-api-key: ${keyRef}" ${url}; done`,
    `# without a key (401):`,
    `curl -i ${url}`,
    `# usage, after the next flush:`,
    `curl -s -H "authorization: Bearer $TOLLGATE_ADMIN_TOKEN" '${e.controlUrl}/v1/usage?keyId=${seed.keyId}&granularity=minute'`,
  ];
  return lines;
}
