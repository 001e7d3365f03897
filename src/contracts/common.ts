import { z } from 'zod';

export const OPERATIONS = [
  'text-to-image',
  'text-to-video',
  'image-to-video',
  'video-upscale',
  'video-extend',
] as const;
export const OperationSchema = z.enum(OPERATIONS);
export type Operation = z.infer<typeof OperationSchema>;

export const TASK_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export const TaskStatusSchema = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

export const FieldErrorSchema = z.object({
  path: z.string().meta({ example: 'width' }),
  message: z.string().meta({ example: 'Too big: expected number to be <=1024' }),
});

/** RFC 9457 problem details, as every 4xx/5xx of the normalized surface answers. */
export const ProblemSchema = z
  .object({
    type: z.string().meta({ example: 'https://genway.dev/problems/invalid_request' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().meta({ description: 'Stable machine-readable error code' }),
    request_id: z.string(),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' });
export type Problem = z.infer<typeof ProblemSchema>;

export const MetadataSchema = z
  .record(z.string().max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 32, { message: 'At most 32 metadata keys' })
  .meta({ description: 'Free string map, echoed back on the task', example: { order: '42' } });

export const WEBHOOK_EVENTS = [
  'task.succeeded',
  'task.failed',
  'task.canceled',
  'task.running',
  'task.progress',
] as const;

export const WebhookRequestSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }).max(2048),
    events: z
      .array(z.enum(WEBHOOK_EVENTS))
      .min(1)
      .default(['task.succeeded', 'task.failed', 'task.canceled']),
  })
  .meta({ description: 'Signed (Standard Webhooks) POST of the task on the events asked for' });

export const ProviderOptionsSchema = z.record(z.string().max(64), z.unknown()).meta({
  description:
    "Provider-specific fields passed through after checking them against that provider's allowlist",
  example: { lora_model: 'more_details' },
});

export const SeedSchema = z.number().int().min(0).max(4_294_967_295);

export const WebhookSecretSchema = z
  .object({
    key: z.string().meta({
      description:
        "The caller tenant's own `whsec_` signing secret: webhooks of its tasks are signed with it (Standard Webhooks: HMAC-SHA256 with the base64-decoded part after `whsec_`)",
      example: 'whsec_dGhpcyBpcyBub3QgYSByZWFsIHNlY3JldCwganVzdCBhbiBleGFtcGxl',
    }),
  })
  .meta({ id: 'WebhookSecret' });
