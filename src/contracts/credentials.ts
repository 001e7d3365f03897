import { z } from 'zod';

/** Circuit state of an upstream credential. */
export const CredentialStateSchema = z.enum(['closed', 'open', 'half_open']).meta({
  description:
    '`closed`: in rotation. `open`: out of rotation after an auth or credits refusal or repeated failures, until its cool-down ends. `half_open`: the cool-down is over; the next create tries it once (success: closed again; failure: open again).',
});

/** One credential as `GET /readyz` shows it: its id, never its secret. */
export const CredentialReadinessSchema = z
  .object({
    id: z.string().meta({ example: 'modelslab-1' }),
    state: CredentialStateSchema,
    in_flight: z.number().int().meta({ description: 'Unfinished tasks created with it' }),
    cap: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'Most tasks it may have in flight; null: no cap' }),
  })
  .meta({ id: 'CredentialReadiness' });

/** One credential in the admin view: readiness plus failure bookkeeping. */
export const CredentialAdminSchema = CredentialReadinessSchema.extend({
  consecutive_failures: z.number().int(),
  total_failures: z.number().int().meta({ description: 'Failures since the process started' }),
  last_error_code: z.string().nullable().meta({ example: 'upstream_auth_failed' }),
  last_error_at: z.string().nullable().meta({ description: 'ISO 8601 time of the last failure' }),
  open_until: z
    .string()
    .nullable()
    .meta({ description: 'While open: when its trial request may be made (ISO 8601)' }),
}).meta({ id: 'CredentialAdmin' });

export const CredentialAdminListSchema = z
  .object({
    providers: z.record(
      z.string(),
      z.object({
        queue: z.object({
          waiting: z.number().int().meta({ description: 'Creates waiting for a free slot now' }),
          max: z.number().int().meta({ description: 'QUEUE_MAX' }),
          wait_ms: z.number().int().meta({ description: 'QUEUE_WAIT_MS' }),
        }),
        credentials: z.array(CredentialAdminSchema),
      }),
    ),
  })
  .meta({ id: 'CredentialAdminList' });
