// What discovery remembers about the APIs it made (migration 015, table discovered_apis), and the storage seam for it.
// Ownership is kept beside the API rather than on it: an API without a record was made by a person.

export type DiscoveredState = 'active' | 'retired';

/** One Service that discovery made an API for, keyed by the Service's uid. */
export interface DiscoveredApi {
  serviceUid: string;
  namespace: string;
  serviceName: string;
  /** The API made (null: the name is claimed and the API not created yet — a crash in between is finished later). */
  apiId: string | null;
  apiName: string;
  /** False once a person edited or deleted the API: discovery leaves it alone unless told to adopt it. */
  managed: boolean;
  /** 'retired': the Service went away or lost its annotation, but a plan still lists the API, so it stays. */
  state: DiscoveredState;
  /** Digest of what discovery last applied (desired fields and the OpenAPI document's sha256). */
  desiredHash: string;
  /** The API as discovery left it (planner.ts apiFingerprint); a different one later means a person edited it. */
  apiFingerprint: string;
  updatedAt: number;
}

export interface DiscoveryRepository {
  list(): Promise<DiscoveredApi[]>;
  /** Inserts or replaces the record of `record.serviceUid`; with `replaces`, deletes that uid's record in the same transaction. */
  put(record: DiscoveredApi, replaces?: string): Promise<void>;
  remove(serviceUid: string): Promise<void>;
}

/** The table's row, as both backends store it. */
export interface DiscoveredRow {
  service_uid: string; namespace: string; service_name: string; api_id: string | null; api_name: string; managed: number;
  state: string; desired_hash: string; api_fingerprint: string; updated_at: number | string;
}

export const toDiscovered = (r: DiscoveredRow): DiscoveredApi => ({
  serviceUid: r.service_uid, namespace: r.namespace, serviceName: r.service_name, apiId: r.api_id, apiName: r.api_name,
  managed: Number(r.managed) === 1, state: r.state as DiscoveredState, desiredHash: r.desired_hash,
  apiFingerprint: r.api_fingerprint, updatedAt: Number(r.updated_at),
});

export const DISCOVERED_COLUMNS = 'service_uid, namespace, service_name, api_id, api_name, managed, state, desired_hash, api_fingerprint, updated_at';

export const discoveredValues = (d: DiscoveredApi): unknown[] => [
  d.serviceUid, d.namespace, d.serviceName, d.apiId, d.apiName, d.managed ? 1 : 0, d.state, d.desiredHash, d.apiFingerprint, d.updatedAt,
];
