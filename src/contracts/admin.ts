import { z } from 'zod';
import { OperationSchema } from './common.js';

const TENANT_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export const BudgetSchema = z
  .strictObject({
    limit_usd: z.number().min(0).max(1_000_000_000).meta({ example: 100 }),
    period: z.enum(['day', 'month', 'total']).meta({
      description: '`day` and `month` are UTC calendar periods; `total` never resets',
    }),
  })
  .meta({ id: 'Budget', description: "A tenant's spending limit in USD per period" });

export const TenantRateLimitSchema = z
  .strictObject({
    max: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .meta({ description: 'Requests per window; 0: unlimited' }),
    window_seconds: z.number().int().min(1).max(86_400).default(60),
  })
  .meta({ id: 'TenantRateLimit' });

export const TenantCreateSchema = z
  .strictObject({
    id: z.string().regex(TENANT_ID).meta({ example: 'team-video' }),
    name: z.string().min(1).max(200).optional().meta({ example: 'Video team' }),
    budget: BudgetSchema.optional(),
    rate_limit: TenantRateLimitSchema.optional(),
  })
  .meta({
    id: 'TenantCreate',
    examples: [
      {
        id: 'team-video',
        name: 'Video team',
        budget: { limit_usd: 100, period: 'month' },
        rate_limit: { max: 600, window_seconds: 60 },
      },
    ],
  });

export const TenantUpdateSchema = z
  .strictObject({
    name: z.string().min(1).max(200).nullable().optional(),
    budget: BudgetSchema.nullable().optional().meta({ description: 'null removes the budget' }),
    rate_limit: TenantRateLimitSchema.nullable().optional(),
  })
  .meta({
    id: 'TenantUpdate',
    description: 'Fields to change; absent fields stay as they are',
    examples: [{ budget: { limit_usd: 250, period: 'month' } }],
  });

export const TenantSchema = z
  .object({
    id: z.string().meta({ example: 'team-video' }),
    object: z.literal('tenant'),
    name: z.string().nullable(),
    budget: BudgetSchema.nullable(),
    rate_limit: z.object({ max: z.number().int(), window_seconds: z.number().int() }).nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Tenant' });

export const TenantListSchema = z
  .object({ object: z.literal('list'), data: z.array(TenantSchema) })
  .meta({ id: 'TenantList' });

export const TenantIdParamsSchema = z.object({ id: z.string().regex(TENANT_ID) });
export const KeyIdParamsSchema = z.object({ id: z.string().min(1).max(100) });

const ModelPatternSchema = z
  .string()
  .regex(/^[^\s*]+(\/\*)?$/, 'expected an exact model id or provider/*')
  .meta({ example: 'pixverse/*' });

export const KeyCreateSchema = z
  .strictObject({
    name: z.string().min(1).max(200).optional().meta({ example: 'checkout backend' }),
    expires_at: z.iso.datetime({ offset: true }).optional().meta({
      description: 'From then on the key is refused (401)',
      example: '2027-01-01T00:00:00Z',
    }),
    models: z
      .array(ModelPatternSchema)
      .max(100)
      .optional()
      .meta({
        description: 'Models the key may use: exact ids or `provider/*`; absent: every model',
        example: ['pixverse/*', 'modelslab/sdxl'],
      }),
    operations: z.array(OperationSchema).max(20).optional().meta({
      description: 'Operations the key may use; absent: every operation',
    }),
  })
  .meta({
    id: 'GatewayKeyCreate',
    examples: [
      {
        name: 'checkout backend',
        expires_at: '2027-06-30T00:00:00Z',
        models: ['pixverse/*', 'modelslab/sdxl'],
        operations: ['text-to-video', 'text-to-image'],
      },
    ],
  });

export const GatewayKeySchema = z
  .object({
    id: z.string().meta({ example: 'key_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B' }),
    object: z.literal('gateway_key'),
    tenant: z.string(),
    name: z.string().nullable(),
    prefix: z.string().meta({ description: 'The first characters of the key', example: 'gk_Xy3a' }),
    expires_at: z.string().nullable(),
    models: z.array(z.string()).nullable(),
    operations: z.array(OperationSchema).nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'GatewayKey', description: 'A gateway key as listed: never the key itself' });

export const GatewayKeyCreatedSchema = GatewayKeySchema.extend({
  key: z.string().meta({
    description: 'The key itself, shown only in this answer: genway keeps only its SHA-256',
    example: 'gk_3Jx8cQ0nT5vN2pR7wY1zL4aB6dF9hK0m',
  }),
}).meta({ id: 'GatewayKeyCreated' });

export const GatewayKeyListSchema = z
  .object({ object: z.literal('list'), data: z.array(GatewayKeySchema) })
  .meta({ id: 'GatewayKeyList' });

const day = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'expected an ISO 8601 date or date-time');

export const usageQuerySchema = <G extends readonly [string, ...string[]]>(groups: G) =>
  z.object({
    from: day.optional().meta({
      description: 'Start (inclusive), ISO 8601; default: the start of the current UTC month',
      example: '2026-12-01',
    }),
    to: day.optional().meta({
      description: 'End (exclusive), ISO 8601; default: now',
      example: '2027-01-01',
    }),
    group_by: z.enum(groups).default(groups[0]),
  });

export const UsageRowSchema = z
  .object({
    model: z.string().optional(),
    day: z.string().optional().meta({ example: '2026-12-07' }),
    key: z.string().nullable().optional().meta({
      description: 'The id of the admin key (null: a key from the configuration)',
    }),
    tenant: z.string().optional(),
    tasks: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    charged_usd: z.number(),
  })
  .meta({
    id: 'UsageRow',
    description: 'One group: its key under the name of `group_by`, then its totals',
  });

export const UsageSchema = z
  .object({ data: z.array(UsageRowSchema) })
  .meta({ id: 'Usage', description: 'Finished tasks per group, from the usage ledger' });
