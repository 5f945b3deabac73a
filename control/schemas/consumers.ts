import { Type } from '@sinclair/typebox';
import { Id, Name, Strict, Timestamp } from './common.js';

export const ConsumerCreate = Type.Object({ name: Name }, Strict);
export const ConsumerPatch = Type.Object({ name: Name }, Strict);
export const ConsumerView = Type.Object({ id: Id, name: Type.String(), createdAt: Timestamp, updatedAt: Timestamp });
