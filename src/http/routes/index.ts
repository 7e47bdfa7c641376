// The /v1 API: one plugin per resource.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Laurel } from '../../services/context.js';
import { sharedSchemas } from '../schemas.js';
import { consoleRoutes } from './console.js';
import { eventRoutes } from './events.js';
import { gradeRoutes } from './grades.js';
import { jobRoutes } from './jobs.js';
import { ledgerRoutes } from './ledger.js';
import { memberRoutes } from './members.js';
import { programRoutes } from './programs.js';
import { rewardRoutes } from './rewards.js';
import { ruleRoutes } from './rules.js';
import { tenantRoutes } from './tenants.js';
import { tierRoutes } from './tiers.js';
import { webhookRoutes } from './webhooks.js';

export const routes = (laurel: Laurel): FastifyPluginAsyncTypebox => async (app) => {
  for (const schema of sharedSchemas) app.addSchema(schema);
  await app.register(tenantRoutes(laurel));
  await app.register(programRoutes(laurel));
  await app.register(memberRoutes(laurel));
  await app.register(ledgerRoutes(laurel));
  await app.register(eventRoutes(laurel));
  await app.register(ruleRoutes(laurel));
  await app.register(jobRoutes(laurel));
  await app.register(gradeRoutes(laurel));
  await app.register(tierRoutes(laurel));
  await app.register(rewardRoutes(laurel));
  await app.register(webhookRoutes(laurel));
  await app.register(consoleRoutes(laurel));
};
