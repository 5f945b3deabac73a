// Distribution targets and their reporter credentials, in PostgreSQL (stored as is: see sqlite/targets.ts for why).
import type pg from 'pg';
import { ConflictError, NotFoundError, ProblemError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { TargetInput, TargetPlacement, TargetRepository } from '../repository.js';
import type { Page, PageRequest, TargetWithCredentials } from '../types.js';
import { targetFromRow, type TargetRow } from '../target-row.js';
import { DEFAULT_PLACED, DEFAULT_TARGET_ID, movesDefault, placementOf } from '../sqlite/targets.js';
import { assertPlacement } from '../../distribution/resources/placement.js';
import { transaction, type Queryable } from './connection.js';
import { recordScopeChange } from './keyfeed.js';
import { page, uniqueName, type Clock, type OnChange } from './shared.js';


const json = (v: unknown): string | null => (v === null ? null : JSON.stringify(v));
const sortedSet = <T>(values: readonly T[]): string => JSON.stringify([...new Set(values)].sort());

export async function readTargets(q: Queryable): Promise<TargetWithCredentials[]> {
  return (await q.query<TargetRow>('SELECT * FROM targets ORDER BY id')).rows.map(targetFromRow);
}

async function targetRow(q: Queryable, id: string, lock = false): Promise<TargetWithCredentials> {
  const r = await q.query<TargetRow>(`SELECT * FROM targets WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [id]);
  if (r.rows.length === 0) throw new NotFoundError('target', id);
  return targetFromRow(r.rows[0]!);
}

async function checkApis(c: Queryable, apiIds: string[]): Promise<void> {
  const found = new Set((await c.query<{ id: string }>('SELECT id FROM apis WHERE id = ANY($1)', [apiIds])).rows.map((r) => r.id));
  for (const apiId of apiIds) if (!found.has(apiId)) throw new ProblemError(422, 'Unknown reference', `apiIds: api '${apiId}' does not exist`);
}


/** Serializes replicas creating the default target at start-up ("tolldeft" as 64 bits, like the other lock keys). */
const ENSURE_DEFAULT_LOCK_KEY = 0x746f6c6c64656674n;
export class PostgresTargets implements TargetRepository {
  constructor(private readonly pool: pg.Pool, private readonly now: Clock, private readonly changed: OnChange) {}

  /** Inserts unless the id exists; returns whether it inserted. */
  private async insert(c: Queryable, id: string, input: TargetInput, reportToken: string): Promise<boolean> {
    // The default target's placement comes from the settings, validated when they load.
    if (id !== DEFAULT_TARGET_ID) assertPlacement(placementOf(input));
    const t = this.now();
    const r = await uniqueName('target', input.name, () => c.query(
      `INSERT INTO targets (id, name, namespace, selector, target_refs, api_ids, deny_unmatched, pass_path_forms, report_token,
       created_at, updated_at, rate_limit_header_style, shadow_header, resource_kind, image_pull_secret)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
       ON CONFLICT (id) DO NOTHING`,
      [id, input.name, input.namespace, json(input.selector), json(input.targetRefs), sortedSet(input.apiIds),
        input.denyUnmatched, sortedSet(input.passPathForms), reportToken, t, t, input.rateLimitHeaderStyle ?? 'legacy', input.shadowHeader ?? null,
        input.kind ?? 'WasmPlugin', input.imagePullSecret ?? null]));
    return r.rowCount === 1;
  }

  async create(input: TargetInput, reportToken: string): Promise<TargetWithCredentials> {
    const id = newId('tgt');
    const target = await transaction(this.pool, async (c) => {
      await checkApis(c, input.apiIds);
      await this.insert(c, id, input, reportToken);
      return targetRow(c, id);
    });
    this.changed();
    return target;
  }

  async get(id: string): Promise<TargetWithCredentials> {
    return targetRow(this.pool, id);
  }

  async list(p: PageRequest): Promise<Page<TargetWithCredentials>> {
    const r = await this.pool.query<TargetRow>('SELECT * FROM targets WHERE id > $1 ORDER BY id LIMIT $2', [p.after ?? '', p.limit + 1]);
    return page(r.rows.map(targetFromRow), p.limit);
  }

  async all(): Promise<TargetWithCredentials[]> {
    return readTargets(this.pool);
  }

  async update(id: string, patch: Partial<TargetInput>): Promise<TargetWithCredentials> {
    const target = await transaction(this.pool, async (c) => {
      const cur = await targetRow(c, id, true);
      if (id === DEFAULT_TARGET_ID && movesDefault(patch)) throw new ProblemError(409, 'Conflict', DEFAULT_PLACED);
      const next = { ...cur, ...patch };
      if (id !== DEFAULT_TARGET_ID) assertPlacement(placementOf(next));
      if (patch.apiIds !== undefined) {
        await checkApis(c, patch.apiIds);
        // The target's scope changes which keys its proxies hold: they take a fresh snapshot (docs/key-feed.md).
        if ([...new Set(patch.apiIds)].sort().join('\n') !== cur.apiIds.join('\n')) await recordScopeChange(c, [id]);
      }
      const r = await uniqueName('target', next.name, () => c.query<TargetRow>(
        `UPDATE targets SET name = $1, namespace = $2, selector = $3, target_refs = $4, api_ids = $5, deny_unmatched = $6,
         pass_path_forms = $7, updated_at = $8, rate_limit_header_style = $9, shadow_header = $10, resource_kind = $11,
         image_pull_secret = $12 WHERE id = $13 RETURNING *`,
        [next.name, next.namespace, json(next.selector), json(next.targetRefs), sortedSet(next.apiIds), next.denyUnmatched,
          sortedSet(next.passPathForms), this.now(), next.rateLimitHeaderStyle ?? 'legacy', next.shadowHeader ?? null,
          next.kind ?? 'WasmPlugin', next.imagePullSecret ?? null, id]));
      return targetFromRow(r.rows[0]!);
    });
    this.changed();
    return target;
  }

  async delete(id: string): Promise<void> {
    await targetRow(this.pool, id);
    if (id === DEFAULT_TARGET_ID) throw new ConflictError('the default target cannot be deleted (its placement comes from the service settings)');
    await this.pool.query('DELETE FROM targets WHERE id = $1', [id]);
    this.changed();
  }

  async rotateReportToken(id: string, token: string, previousValidUntil: number): Promise<TargetWithCredentials> {
    const r = await this.pool.query<TargetRow>(
      `UPDATE targets SET previous_report_token = report_token, previous_valid_until = $1, report_token = $2, updated_at = $3
       WHERE id = $4 RETURNING *`, [previousValidUntil, token, this.now(), id]);
    if (r.rows.length === 0) throw new NotFoundError('target', id);
    this.changed();
    return targetFromRow(r.rows[0]!);
  }

  async ensureDefault(placement: TargetPlacement, configuredToken: string | undefined, newToken: () => string, graceUntil: number): Promise<TargetWithCredentials> {
    // Replicas starting together: the first inserts, the others find its row and keep its generated token unless one
    // is configured. A transaction lock serializes them: with only a row lock, two could both find no row, and the
    // second insert would then fail on the unique name (ON CONFLICT (id) does not cover it) instead of waiting.
    return transaction(this.pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [ENSURE_DEFAULT_LOCK_KEY.toString()]);
      const existing = await c.query<TargetRow>('SELECT * FROM targets WHERE id = $1 FOR UPDATE', [DEFAULT_TARGET_ID]);
      if (existing.rows.length === 0) {
        const fresh = { ...placement, apiIds: [], denyUnmatched: false, passPathForms: [] };
        if (await this.insert(c, DEFAULT_TARGET_ID, fresh, configuredToken ?? newToken())) return targetRow(c, DEFAULT_TARGET_ID);
      }
      const cur = await targetRow(c, DEFAULT_TARGET_ID, true);
      const token = configuredToken ?? cur.reportToken;
      await c.query('UPDATE targets SET name = $1, namespace = $2, selector = $3, target_refs = $4 WHERE id = $5',
        [placement.name, placement.namespace, json(placement.selector), json(placement.targetRefs), DEFAULT_TARGET_ID]);
      // A token set in the settings replaces the stored one; proxies still holding the old one keep reporting until
      // the new WasmPlugin reaches them.
      if (token !== cur.reportToken) {
        await c.query('UPDATE targets SET previous_report_token = report_token, previous_valid_until = $1, report_token = $2 WHERE id = $3',
          [graceUntil, token, DEFAULT_TARGET_ID]);
      }
      return targetRow(c, DEFAULT_TARGET_ID);
    });
  }
}
