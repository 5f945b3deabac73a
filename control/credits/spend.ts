// What a reply tells a proxy about credit balances (docs/usage-report.md "Reply", docs/key-feed.md "Credits"): the
// fleet's spend against the current period of each grant, the asker's own left out. Pure apart from the reads given.
import type { CreditSpend } from '../../contracts/key-feed.js';
import type { KeyFacts, UsageRepository } from '../store/repository.js';
import type { ReporterScope } from '../store/types.js';
import { planInScope } from '../usage/fleet.js';
import { creditFrom, creditSpendOf, subscriptionOf, type CreditTerms } from './balance.js';

type SpendSource = Pick<UsageRepository, 'creditOthers'>;
type Balanced = CreditTerms & { planId: string; consumerId: string };

/** The spend of these balances (each subscription once, in the order given). */
export async function creditSpendFor(repo: SpendSource, balances: readonly Balanced[], reporter: string, now: number): Promise<CreditSpend[]> {
  const seen = new Set<string>();
  const list = balances.filter((b) => {
    const sub = subscriptionOf(b.planId, b.consumerId);
    if (seen.has(sub)) return false;
    seen.add(sub);
    return true;
  });
  if (list.length === 0) return [];
  const others = await repo.creditOthers(list.map((b) => ({ grant: b.grant, from: creditFrom(b, now) })), reporter);
  return creditSpendOf(list, others, now);
}

/** An ordinary reply: the balances of the report's subscriptions that have one. */
export function creditSpendForKeys(repo: SpendSource, facts: Iterable<KeyFacts>, reporter: string, now: number): Promise<CreditSpend[]> {
  const balances: Balanced[] = [];
  for (const f of facts) if (f.credit !== undefined) balances.push({ ...f.credit, planId: f.planId, consumerId: f.consumerId });
  return creditSpendFor(repo, balances, reporter, now);
}

/** A sync reply (and a snapshot's last page): every balance of the scope's subscriptions. */
export async function creditSpendForSync(repo: Pick<UsageRepository, 'creditOthers' | 'creditBalances' | 'planFacts'>, scope: ReporterScope, reporter: string, now: number): Promise<CreditSpend[]> {
  let balances = await repo.creditBalances();
  if (scope.apiIds !== null) {
    const plans = await repo.planFacts([...new Set(balances.map((b) => b.planId))]);
    balances = balances.filter((b) => planInScope(plans.get(b.planId)?.apiIds ?? [], scope));
  }
  return creditSpendFor(repo, balances, reporter, now);
}
