// The admin token and the default target's reporter credential: taken from the settings or generated on first
// start. The admin token is stored only as a digest and printed once when generated. Reporter credentials are stored
// as they are (see store/sqlite/targets.ts): each ships inside its target's WasmPlugin anyway.
import { digestOf, matchesDigest, newToken } from './key-material.js';
import { DEFAULT_REPORT_TOKEN_GRACE_S } from './reporter-credentials.js';
import { SettingsError, type ControlSettings } from './settings.js';
import type { SecretRepository, Store } from './store/repository.js';
import type { TargetWithCredentials } from './store/types.js';
import type { Tokens } from './plugins/app/decorations.js';

const ADMIN_DIGEST = 'admin_token_digest';
/** Where versions before targets kept the one report token: an upgraded store's default target takes it over. */
const LEGACY_REPORT_TOKEN = 'report_token';

/**
 * The default target, placed where the settings say, with the configured reporter credential (or the stored one, or
 * a new one). Refuses a credential that is also an admin token: every proxy of the target (and everyone who can read
 * its WasmPlugin) would hold admin rights.
 */
export async function ensureDefaultTarget(store: Store, settings: ControlSettings, adminDigests: readonly string[]): Promise<TargetWithCredentials> {
  const legacy = await store.secrets.get(LEGACY_REPORT_TOKEN);
  const placement = { name: settings.wasmPluginName, namespace: settings.namespace, selector: settings.selector ?? null, targetRefs: settings.targetRefs ?? null };
  const graceUntil = Math.floor(Date.now() / 1000) + DEFAULT_REPORT_TOKEN_GRACE_S;
  const target = await store.targets.ensureDefault(placement, settings.reportToken, () => legacy ?? newToken('tgr_'), graceUntil);
  if (adminDigests.some((d) => matchesDigest(target.reportToken, d))) {
    throw new SettingsError('the default target\'s reporter credential equals an admin token: rotate it (POST /v1/targets/default/report-token:rotate) or set TOLLGATE_REPORT_TOKEN');
  }
  return target;
}

/**
 * `announce` receives the generated admin token: the one time it is ever visible. Without `announce` (tools that
 * only read, like `tollgate render`) no token is generated: with none configured or stored, no admin token works.
 */
export async function resolveTokens(
  secrets: SecretRepository,
  settings: { adminToken: string | undefined; reportToken: string | undefined },
  announce: ((adminToken: string) => void) | undefined,
): Promise<Tokens> {
  let adminDigests: string[];
  let generated: string | undefined;
  if (settings.adminToken !== undefined) {
    // Several comma-separated tokens are accepted, so one can be rotated without downtime.
    adminDigests = settings.adminToken.split(',').map((t) => digestOf(t.trim()));
  } else {
    const stored = await secrets.get(ADMIN_DIGEST);
    if (stored !== undefined) adminDigests = stored.split(',');
    else if (announce === undefined) adminDigests = [];
    else {
      generated = newToken('tga_');
      adminDigests = [digestOf(generated)];
    }
  }
  // Checked before anything is stored (ensureDefaultTarget checks the stored credential too).
  if (settings.reportToken !== undefined && adminDigests.some((d) => matchesDigest(settings.reportToken!, d))) {
    throw new SettingsError('TOLLGATE_REPORT_TOKEN: must differ from every admin token (it is shipped to every proxy)');
  }
  if (settings.adminToken !== undefined || generated !== undefined) await secrets.set(ADMIN_DIGEST, adminDigests.join(','));
  if (generated !== undefined) announce?.(generated);
  return { adminDigests };
}
