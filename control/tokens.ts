// Admin and report tokens: taken from the settings or generated on first start. The admin token is stored only as a
// digest and printed once when generated. The report token is stored as is: it is shipped to every proxy inside the
// WasmPlugin's pluginConfig anyway, so hashing it here would protect nothing.
import { digestOf, matchesDigest, newToken } from './key-material.js';
import { SettingsError } from './settings.js';
import type { SecretRepository } from './store/repository.js';
import type { Tokens } from './plugins/app/decorations.js';

const ADMIN_DIGEST = 'admin_token_digest';
const REPORT_TOKEN = 'report_token';

export async function resolveReportToken(secrets: SecretRepository, fromSettings: string | undefined): Promise<string> {
  if (fromSettings !== undefined) return fromSettings;
  const stored = await secrets.get(REPORT_TOKEN);
  if (stored !== undefined) return stored;
  const token = newToken('tgr_');
  await secrets.set(REPORT_TOKEN, token);
  return token;
}

/** `announce` receives the generated admin token: the one time it is ever visible. */
export async function resolveTokens(
  secrets: SecretRepository,
  settings: { adminToken: string | undefined; reportToken: string | undefined },
  announce: (adminToken: string) => void,
): Promise<Tokens> {
  let adminDigests: string[];
  let generated: string | undefined;
  if (settings.adminToken !== undefined) {
    // Several comma-separated tokens are accepted, so one can be rotated without downtime.
    adminDigests = settings.adminToken.split(',').map((t) => digestOf(t.trim()));
  } else {
    const stored = await secrets.get(ADMIN_DIGEST);
    if (stored !== undefined) adminDigests = stored.split(',');
    else {
      generated = newToken('tga_');
      adminDigests = [digestOf(generated)];
    }
  }
  const reportToken = await resolveReportToken(secrets, settings.reportToken);
  // The report token is shipped to every proxy inside the WasmPlugin: were it also an admin token, every proxy (and
  // everyone who can read WasmPlugins) would hold admin rights. Checked before anything is stored.
  if (adminDigests.some((d) => matchesDigest(reportToken, d))) {
    throw new SettingsError('TOLLGATE_REPORT_TOKEN: must differ from every admin token (it is shipped to every proxy)');
  }
  if (settings.adminToken !== undefined || generated !== undefined) await secrets.set(ADMIN_DIGEST, adminDigests.join(','));
  if (generated !== undefined) announce(generated);
  return { adminDigests, reportToken };
}
