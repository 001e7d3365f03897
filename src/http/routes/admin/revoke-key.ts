import { z } from 'zod';
import { KeyIdParamsSchema } from '../../../contracts/admin.js';
import { GatewayError } from '../../../errors/gateway-error.js';
import { problemResponses } from '../../problem.js';
import { ADMIN_SECURITY, ADMIN_TAG, type AdminRoute } from './admin-api.js';

/** DELETE /admin/keys/{id}: revokes the key; the next request with it is 401, on every instance. */
export const revokeKeyRoute: AdminRoute = (app, deps) => {
  app.delete(
    '/admin/keys/:id',
    {
      schema: {
        tags: [ADMIN_TAG],
        summary: 'Revoke a gateway key',
        description:
          'The key is refused (401) from the next request on, on every instance. Tasks it created stay with its tenant.',
        security: ADMIN_SECURITY,
        params: KeyIdParamsSchema,
        response: {
          200: z
            .object({ id: z.string(), object: z.literal('gateway_key'), deleted: z.literal(true) })
            .meta({ id: 'GatewayKeyRevoked' }),
          ...problemResponses(400, 401, 404),
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!(await deps.admin.deleteKey(id))) throw new GatewayError('not_found', `No key ${id}`);
      return { id, object: 'gateway_key' as const, deleted: true as const };
    },
  );
};
