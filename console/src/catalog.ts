// The catalogue the views share (APIs, plans, consumers), loaded once per login and reloaded after changes.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { allPages, type Api } from './api';
import type { ApiView, ConsumerView, PlanView } from './types';

export interface Catalog { apis: ApiView[]; plans: PlanView[]; consumers: ConsumerView[] }
export interface CatalogState { catalog: Catalog | undefined; error: string | undefined; reload: () => void }

export function useCatalog(api: Api): CatalogState {
  const [catalog, setCatalog] = useState<Catalog | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    Promise.all([allPages<ApiView>(api, '/v1/apis'), allPages<PlanView>(api, '/v1/plans'), allPages<ConsumerView>(api, '/v1/consumers')])
      .then(([apis, plans, consumers]) => {
        if (!live) return;
        const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);
        setCatalog({ apis: apis.sort(byName), plans: plans.sort(byName), consumers: consumers.sort(byName) });
        setError(undefined);
      })
      .catch((err: Error) => { if (live) setError(err.message); });
    return () => { live = false; };
  }, [api, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { catalog, error, reload };
}

/** Runs `fn` over items with at most `limit` in flight (the console must not flood the control service). */
export async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
