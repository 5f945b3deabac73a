// Credit balances over REST (docs/control.md "Credits"). Amounts are integers 0 … 2^53−1; the rules the schema cannot
// say (refillAmount and refillPer together) are control/credits/balance.ts creditInputProblem (422).
import { Type } from '@sinclair/typebox';
import { Id, Strict, Timestamp } from './common.js';

const Amount = Type.Number({ description: 'an integer from 0 to 2^53−1 (anything else: 422)' });
/** CREDIT_REFILL_PERIODS, spelled out so TypeBox keeps the literal types. */
const RefillPer = Type.Union([Type.Literal('hour'), Type.Literal('day'), Type.Literal('month')]);

export const CreditParams = Type.Object({ id: Id, planId: Id }, Strict);

export const CreditSet = Type.Object({
  balance: Amount,
  refillAmount: Type.Optional(Type.Union([Amount, Type.Null()], { description: 'what the balance becomes at every refill boundary; with refillPer' })),
  refillPer: Type.Optional(Type.Union([RefillPer, Type.Null()], { description: 'UTC boundaries it refills at; absent or null: never (prepaid)' })),
}, Strict);

export const CreditView = Type.Object({
  planId: Id,
  consumerId: Id,
  grant: Type.String({ description: 'new on every set: counting restarts with it' }),
  balance: Type.Integer(),
  refillAmount: Type.Union([Type.Integer(), Type.Null()]),
  refillPer: Type.Union([RefillPer, Type.Null()]),
  since: Timestamp,
  from: Timestamp,
  budget: Type.Integer({ description: 'balance until the first refill boundary after since, then refillAmount' }),
  spent: Type.Integer({ description: 'units of allowed requests since from, as stored (the fleet\'s, within one flush)' }),
  remaining: Type.Integer({ description: 'budget − spent, 0 when spent is more' }),
  updatedAt: Timestamp,
});

export const CreditList = Type.Object({ items: Type.Array(CreditView) });
