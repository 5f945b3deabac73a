// Admin and report tokens: taken from the settings or generated on first start. The admin token is stored only as a
// digest and printed once when generated. The report token is stored as is: it is shipped to every proxy inside the
// WasmPlugin's pluginConfig anyway, so hashing it here would protect nothing.
import { digestOf, newToken } from './key-material.js';
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
  if (settings.adminToken !== undefined) {
    // Several comma-separated tokens are accepted, so one can be rotated without downtime.
    adminDigests = settings.adminToken.split(',').map((t) => digestOf(t.trim()));
    await secrets.set(ADMIN_DIGEST, adminDigests.join(','));
  } else {
    const stored = await secrets.get(ADMIN_DIGEST);
    if (stored !== undefined) adminDigests = stored.split(',');
    else {
      const token = newToken('tga_');
      adminDigests = [digestOf(token)];
      await secrets.set(ADMIN_DIGEST, adminDigests[0]!);
      announce(token);
    }
  }
  return { adminDigests, reportToken: await resolveReportToken(secrets, settings.reportToken) };
}
