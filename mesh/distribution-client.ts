// The sidecar's side of the local distribution contract (docs/local-mesh.md): long-poll the control service for the
// rendered WasmPlugin and acknowledge each version, like Envoy's ECDS subscription with its ACK/NACK.

import { ACK_PATH, WASMPLUGIN_POLL_PATH, type DistributedPlugin, type DistributionAck } from '../contracts/distribution.js';

export type { DistributedPlugin };
export type Ack = DistributionAck;

export class DistributionError extends Error {
  override name = 'DistributionError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

export interface DistributionClient {
  /** Resolves with the next version, or 'unchanged' when the hold expired with `known` still current. */
  poll(known: string | undefined, waitSeconds: number, signal?: AbortSignal): Promise<DistributedPlugin | 'unchanged'>;
  ack(ack: Ack, signal?: AbortSignal): Promise<void>;
}

export function distributionClient(controlUrl: string, reportToken: string): DistributionClient {
  const auth = { authorization: `Bearer ${reportToken}` };
  return {
    async poll(known, waitSeconds, signal) {
      const url = new URL(WASMPLUGIN_POLL_PATH, controlUrl);
      if (known !== undefined) url.searchParams.set('known', known);
      url.searchParams.set('waitSeconds', String(waitSeconds));
      const res = await fetch(url, { headers: auth, signal });
      if (res.status === 304) {
        await res.body?.cancel();
        return 'unchanged';
      }
      if (res.status !== 200) {
        const text = await res.text().catch(() => '');
        throw new DistributionError(`GET ${url.pathname} → ${res.status} ${text.slice(0, 200)}`, res.status);
      }
      const body = (await res.json()) as Partial<DistributedPlugin>;
      if (typeof body.version !== 'string' || body.wasmPlugin === undefined) throw new DistributionError('distribution reply lacks version or wasmPlugin');
      return { version: body.version, wasmPlugin: body.wasmPlugin };
    },
    async ack(ack, signal) {
      const res = await fetch(new URL(ACK_PATH, controlUrl), {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(ack),
        signal,
      });
      const text = await res.text().catch(() => '');
      if (res.status !== 204 && res.status !== 200) throw new DistributionError(`POST ${ACK_PATH} → ${res.status} ${text.slice(0, 200)}`, res.status);
    },
  };
}
