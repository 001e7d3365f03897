import { z } from 'zod';
import { OperationSchema } from './common.js';

export const ModelInfoSchema = z.object({
  id: z.string().meta({ example: 'modelslab/sdxl' }),
  object: z.literal('model'),
  provider: z.string(),
  operations: z.array(OperationSchema),
  emulated: z
    .boolean()
    .meta({ description: 'True when served by the built-in emulator (no credentials set)' }),
  aliases: z.array(z.string()),
  limits: z
    .record(z.string(), z.unknown())
    .meta({ description: 'Parameter limits genway enforces before calling the provider' }),
});

export const ModelListSchema = z
  .object({ object: z.literal('list'), data: z.array(ModelInfoSchema) })
  .meta({ id: 'ModelList' });
export type ModelInfo = z.infer<typeof ModelInfoSchema>;
