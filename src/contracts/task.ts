import { z } from 'zod';
import { OperationSchema, TaskStatusSchema, WEBHOOK_EVENTS } from './common.js';

export const TaskOutputSchema = z.object({
  url: z.string().meta({ description: 'Where the provider serves the file' }),
  content_type: z.string().meta({ example: 'image/png' }),
  expires_at: z
    .string()
    .nullable()
    .meta({ description: 'When the provider link stops working, if known' }),
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
      .meta({ description: 'The webhook asked for on create, with the state of each delivery' }),
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
