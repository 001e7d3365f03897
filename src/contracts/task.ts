import { z } from 'zod';
import { OperationSchema, TaskStatusSchema, WEBHOOK_EVENTS } from './common.js';

export const TaskOutputSchema = z.object({
  url: z.string().meta({
    description:
      "A signed genway link (`/media/...`) to the stored copy: works without a gateway key (e.g. as `<img src>`), supports `Range`, expires after MEDIA_LINK_TTL and is re-issued on every read. The provider's own link when the output is not stored (MEDIA_STORE_URL=none, or `stored: false`).",
    example:
      'https://genway.example.com/media/tasks/task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B/0?expires=1764000000&signature=3q2-7w',
  }),
  content_type: z.string().meta({ example: 'image/png' }),
  bytes: z.number().int().optional().meta({ description: 'Size of the stored copy' }),
  sha256: z.string().optional().meta({
    description: 'Hex SHA-256 of the stored copy',
    example: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  }),
  expires_at: z.string().nullable().meta({
    description:
      "When genway stops serving the output: the end of retention (MEDIA_RETENTION) for a stored copy, else the provider link's expiry, if known",
  }),
  stored: z.boolean().optional().meta({
    description:
      'true: genway keeps a copy; false: the copy could not be made (see `store_error`) and `url` is the provider link. Absent when media storage is off.',
  }),
  store_error: z.string().optional().meta({ description: 'Why the copy could not be made' }),
  poster_url: z.string().optional().meta({
    description: 'Signed link to a JPEG poster frame of a stored video (when ffmpeg is available)',
  }),
});

export const TaskErrorSchema = z.object({
  code: z.string().meta({ example: 'upstream_rejected' }),
  message: z.string(),
});

export const WebhookDeliverySchema = z.object({
  id: z.string().meta({ description: 'The `webhook-id` of every attempt of this message' }),
  event: z.enum(WEBHOOK_EVENTS),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  last_status: z
    .number()
    .int()
    .nullable()
    .meta({ description: "HTTP status of the receiver's last answer" }),
  last_error: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  delivered_at: z.string().nullable(),
});

export const TaskCostSchema = z
  .object({
    currency: z.literal('USD'),
    estimated: z.number().nullable().meta({
      description:
        "Estimated from the request at create time, by the operator's prices; null: no price applies",
      example: 0.5,
    }),
    charged: z.number().nullable().meta({
      description:
        'Set at the terminal status: actual usage where the upstream reports it, else the estimate; 0 where the upstream provably charged nothing (refused before start, refunded). Null until then',
      example: 0.5,
    }),
  })
  .meta({ id: 'TaskCost', description: "The task's cost in USD" });

export const TaskSchema = z
  .object({
    id: z.string().meta({ example: 'task_01JD7Z6Q4N8K2V3W5X6Y7Z8A9B' }),
    object: z.literal('task'),
    type: OperationSchema,
    model: z.string().meta({ example: 'modelslab/sdxl' }),
    provider: z.string().meta({ example: 'modelslab' }),
    status: TaskStatusSchema,
    progress: z.number().min(0).max(1).nullable(),
    outputs: z.array(TaskOutputSchema),
    outputs_omitted: z.number().int().optional().meta({
      description:
        'Outputs the provider answered beyond the 64 a task keeps (they are not listed); absent when none were left out',
    }),
    error: TaskErrorSchema.nullable(),
    upstream: z.object({ id: z.string().nullable(), status: z.string().nullable() }),
    metadata: z.record(z.string(), z.string()),
    created_at: z.string(),
    updated_at: z.string(),
    completed_at: z.string().nullable(),
    cost: TaskCostSchema,
    webhook: z
      .object({
        url: z.string(),
        events: z.array(z.enum(WEBHOOK_EVENTS)),
        deliveries: z.array(WebhookDeliverySchema),
      })
      .nullable()
      .meta({
        description:
          'The webhook asked for on create, with the state of its deliveries: every pending one and the 20 most recent finished ones (older ones are dropped from the task). A pending `task.progress` message is replaced by a newer progress or terminal message, so a slow receiver gets the latest state rather than every step; terminal events are never dropped.',
      }),
  })
  .meta({ id: 'Task', description: 'A generation job and its current state' });
export type Task = z.infer<typeof TaskSchema>;

export const TaskListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(TaskSchema),
    next_cursor: z
      .string()
      .nullable()
      .meta({ description: 'Pass as `cursor` to get the next page; null on the last page' }),
  })
  .meta({ id: 'TaskList' });
