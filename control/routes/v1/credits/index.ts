// Credit balances of a consumer's subscriptions (docs/control.md "Credits"): set (a new grant each time), read with
// what was spent, list, remove. Admin token. The balance itself is enforced by the filter; the key feed carries it.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { IdParams, NoContent, ProblemResponses } from '../../../schemas/common.js';
import { CreditList, CreditParams, CreditSet, CreditView } from '../../../schemas/credits.js';
import { ProblemError } from '../../../errors.js';
import { creditAccount, creditFrom, creditInputProblem, type CreditBalance } from '../../../credits/balance.js';
import { iso } from '../views.js';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export default async function creditRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['credits'];

  /** Balances as accounts at `now`: spent is every reporter's stored units for the grant's current period. */
  const accounts = async (balances: CreditBalance[], now: number) => {
    const spent = await app.store.usage.creditOthers(balances.map((b) => ({ grant: b.grant, from: creditFrom(b, now) })), '');
    return balances.map((b, i) => {
      const a = creditAccount(b, spent[i] ?? 0, now);
      return { ...a, since: iso(a.since), from: iso(a.from), updatedAt: iso(a.updatedAt) };
    });
  };

  app.put('/:id/credits/:planId', { schema: { tags, params: CreditParams, body: CreditSet, response: { 200: CreditView, ...ProblemResponses } } }, async (req) => {
    const body = req.body;
    const problem = creditInputProblem(body);
    if (problem !== undefined) throw new ProblemError(422, 'Invalid credit balance', problem);
    const balance = await app.store.credits.set(req.params.id, req.params.planId, {
      balance: body.balance, refillAmount: body.refillAmount ?? null, refillPer: body.refillPer ?? null,
    });
    return (await accounts([balance], nowSeconds()))[0]!;
  });

  app.get('/:id/credits', { schema: { tags, params: IdParams, response: { 200: CreditList, ...ProblemResponses } } }, async (req) =>
    ({ items: await accounts(await app.store.credits.listForConsumer(req.params.id), nowSeconds()) }));

  app.get('/:id/credits/:planId', { schema: { tags, params: CreditParams, response: { 200: CreditView, ...ProblemResponses } } }, async (req) =>
    (await accounts([await app.store.credits.get(req.params.id, req.params.planId)], nowSeconds()))[0]!);

  app.delete('/:id/credits/:planId', { schema: { tags, params: CreditParams, response: { 204: NoContent, ...ProblemResponses } } }, async (req, reply) => {
    await app.store.credits.remove(req.params.id, req.params.planId);
    return reply.code(204).send(null);
  });
}
