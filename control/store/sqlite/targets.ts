// Distribution targets and their reporter credentials, in SQLite. The credential is stored as is: it ships inside
// the target's WasmPlugin, so a digest here would protect nothing the WasmPlugin does not already expose.
import { ConflictError, NotFoundError, ProblemError } from '../../errors.js';
import { newId } from '../../key-material.js';
import type { TargetInput, TargetPlacement, TargetRepository } from '../repository.js';
import type { Page, PageRequest, Target, TargetWithCredentials } from '../types.js';
import { targetFromRow, type TargetRow } from '../target-row.js';
import type { Db } from './open.js';
import { recordScopeChange } from './keyfeed.js';
import { page, uniqueName, type Clock, type Durable, type OnChange } from './shared.js';
import { DEFAULT_RESOURCE_KIND } from '../../../contracts/resources.js';
import { assertPlacement, type Placement } from '../../distribution/resources/placement.js';

export const DEFAULT_TARGET_ID = 'default';

/** Why the default target's placement cannot be patched (it follows the settings at every start). */
export const DEFAULT_PLACED = 'the default target is placed by the service settings (TOLLGATE_WASMPLUGIN_NAME, TOLLGATE_NAMESPACE, TOLLGATE_SELECTOR, TOLLGATE_TARGET_REFS) and ships as a WasmPlugin; only apiIds, denyUnmatched, passPathForms, rateLimitHeaderStyle, shadowHeader and imagePullSecret can be changed here';

/** What the placement rules look at (control/distribution/resources/placement.ts). */
export function placementOf(t: Pick<TargetInput, 'kind' | 'selector' | 'targetRefs'>): Placement {
  return { kind: t.kind ?? DEFAULT_RESOURCE_KIND, selector: t.selector, targetRefs: t.targetRefs };
}

/** Whether a patch would change the default target's placement or resource kind. */
export function movesDefault(patch: Partial<TargetInput>): boolean {
  return patch.name !== undefined || patch.namespace !== undefined || patch.selector !== undefined || patch.targetRefs !== undefined
    || (patch.kind !== undefined && patch.kind !== 'WasmPlugin');
}


/** The public view: no credentials. */
export function withoutCredentials(t: TargetWithCredentials): Target {
  const { reportToken: _c, previousReportToken: _p, previousValidUntil: _u, ...rest } = t;
  return rest;
}

export function readTargets(db: Db): TargetWithCredentials[] {
  return (db.prepare('SELECT * FROM targets ORDER BY id').all() as TargetRow[]).map(targetFromRow);
}

export class SqliteTargets implements TargetRepository {
  constructor(private readonly db: Db, private readonly now: Clock, private readonly changed: OnChange, private readonly durable: Durable) {}

  private row(id: string): TargetWithCredentials {
    const r = this.db.prepare('SELECT * FROM targets WHERE id = ?').get(id) as TargetRow | undefined;
    if (r === undefined) throw new NotFoundError('target', id);
    return targetFromRow(r);
  }

  private checkApis(apiIds: string[]): void {
    const exists = this.db.prepare('SELECT 1 FROM apis WHERE id = ?');
    for (const apiId of apiIds) {
      if (exists.get(apiId) === undefined) throw new ProblemError(422, 'Unknown reference', `apiIds: api '${apiId}' does not exist`);
    }
  }

  private insert(id: string, input: TargetInput, reportToken: string): void {
    // The default target's placement comes from the settings, validated when they load.
    if (id !== DEFAULT_TARGET_ID) assertPlacement(placementOf(input));
    const t = this.now();
    uniqueName('target', input.name, () => this.db.prepare(
      `INSERT INTO targets (id, name, namespace, selector, target_refs, api_ids, deny_unmatched, pass_path_forms, report_token,
       created_at, updated_at, rate_limit_header_style, shadow_header, resource_kind, image_pull_secret)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(id, input.name, input.namespace, input.selector === null ? null : JSON.stringify(input.selector),
      input.targetRefs === null ? null : JSON.stringify(input.targetRefs), JSON.stringify([...new Set(input.apiIds)].sort()),
      input.denyUnmatched ? 1 : 0, JSON.stringify([...new Set(input.passPathForms)].sort()), reportToken, t, t,
      input.rateLimitHeaderStyle ?? 'legacy', input.shadowHeader ?? null, input.kind ?? 'WasmPlugin', input.imagePullSecret ?? null));
  }

  async create(input: TargetInput, reportToken: string): Promise<TargetWithCredentials> {
    const id = newId('tgt');
    this.db.transaction(() => {
      this.checkApis(input.apiIds);
      this.insert(id, input, reportToken);
    }).immediate();
    this.changed();
    await this.durable();
    return this.row(id);
  }

  async get(id: string): Promise<TargetWithCredentials> {
    return this.row(id);
  }

  async list(p: PageRequest): Promise<Page<TargetWithCredentials>> {
    const rows = this.db.prepare('SELECT * FROM targets WHERE id > ? ORDER BY id LIMIT ?').all(p.after ?? '', p.limit + 1) as TargetRow[];
    return page(rows.map(targetFromRow), p.limit);
  }

  async all(): Promise<TargetWithCredentials[]> {
    return readTargets(this.db);
  }

  async update(id: string, patch: Partial<TargetInput>): Promise<TargetWithCredentials> {
    this.db.transaction(() => {
      const cur = this.row(id);
      if (id === DEFAULT_TARGET_ID && movesDefault(patch)) throw new ProblemError(409, 'Conflict', DEFAULT_PLACED);
      const next = { ...cur, ...patch };
      if (id !== DEFAULT_TARGET_ID) assertPlacement(placementOf(next));
      if (patch.apiIds !== undefined) {
        this.checkApis(patch.apiIds);
        // The target's scope changes which keys its proxies hold: they take a fresh snapshot (docs/key-feed.md).
        if ([...new Set(patch.apiIds)].sort().join('\n') !== cur.apiIds.join('\n')) recordScopeChange(this.db, [id]);
      }
      uniqueName('target', next.name, () => this.db.prepare(
        `UPDATE targets SET name = ?, namespace = ?, selector = ?, target_refs = ?, api_ids = ?, deny_unmatched = ?,
         pass_path_forms = ?, updated_at = ?, rate_limit_header_style = ?, shadow_header = ?, resource_kind = ?,
         image_pull_secret = ? WHERE id = ?`,
      ).run(next.name, next.namespace, next.selector === null ? null : JSON.stringify(next.selector),
        next.targetRefs === null ? null : JSON.stringify(next.targetRefs), JSON.stringify([...new Set(next.apiIds)].sort()),
        next.denyUnmatched ? 1 : 0, JSON.stringify([...new Set(next.passPathForms)].sort()), this.now(),
        next.rateLimitHeaderStyle ?? 'legacy', next.shadowHeader ?? null, next.kind ?? 'WasmPlugin', next.imagePullSecret ?? null, id));
    }).immediate();
    this.changed();
    await this.durable();
    return this.row(id);
  }

  async delete(id: string): Promise<void> {
    this.row(id);
    if (id === DEFAULT_TARGET_ID) throw new ConflictError('the default target cannot be deleted (its placement comes from the service settings)');
    this.db.prepare('DELETE FROM targets WHERE id = ?').run(id);
    this.changed();
    await this.durable();
  }

  async rotateReportToken(id: string, token: string, previousValidUntil: number): Promise<TargetWithCredentials> {
    this.db.transaction(() => {
      this.row(id);
      this.db.prepare(
        `UPDATE targets SET previous_report_token = report_token, previous_valid_until = ?, report_token = ?, updated_at = ?
         WHERE id = ?`,
      ).run(previousValidUntil, token, this.now(), id);
    }).immediate();
    this.changed();
    await this.durable();
    return this.row(id);
  }

  async ensureDefault(placement: TargetPlacement, configuredToken: string | undefined, newToken: () => string, graceUntil: number): Promise<TargetWithCredentials> {
    const existing = this.db.prepare('SELECT * FROM targets WHERE id = ?').get(DEFAULT_TARGET_ID) as TargetRow | undefined;
    if (existing === undefined) {
      const token = configuredToken ?? newToken();
      this.db.transaction(() => this.insert(DEFAULT_TARGET_ID, { ...placement, apiIds: [], denyUnmatched: false, passPathForms: [] }, token)).immediate();
    } else {
      const cur = targetFromRow(existing);
      const token = configuredToken ?? cur.reportToken;
      this.db.transaction(() => {
        this.db.prepare('UPDATE targets SET name = ?, namespace = ?, selector = ?, target_refs = ? WHERE id = ?').run(
          placement.name, placement.namespace, placement.selector === null ? null : JSON.stringify(placement.selector),
          placement.targetRefs === null ? null : JSON.stringify(placement.targetRefs), DEFAULT_TARGET_ID);
        // A token set in the settings replaces the stored one; proxies still holding the old one keep reporting
        // until the new WasmPlugin reaches them.
        if (token !== cur.reportToken) {
          this.db.prepare('UPDATE targets SET previous_report_token = report_token, previous_valid_until = ?, report_token = ? WHERE id = ?')
            .run(graceUntil, token, DEFAULT_TARGET_ID);
        }
      }).immediate();
    }
    await this.durable();
    return this.row(DEFAULT_TARGET_ID);
  }
}
