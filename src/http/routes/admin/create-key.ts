import { randomBytes } from 'node:crypto';
import { monotonicUlid } from '../../../domain/ulids.js';
import {
  GatewayKeyCreatedSchema,
  KeyCreateSchema,
  TenantIdParamsSchema,
} from '../../../contracts/admin.js';
import type { ApiKeyRecord } from '../../../domain/admin-store.js';
import { GatewayError } from '../../../errors/gateway-error.js';
import { adminKeyHash } from '../../auth.js';
import { problemResponses } from '../../problem.js';
import {
  ADMIN_SECURITY,
  ADMIN_TAG,
  keyView,
  tenantNotFound,
  type AdminRoute,
} from './admin-api.js';

const newUlid = monotonicUlid();
/** Characters of the key kept (and shown in lists) to recognise it. */
const PREFIX_LENGTH = 7;

/** POST /admin/tenants/{id}/keys: a new gateway key, shown once; only its SHA-256 is kept. */
export const createKeyRoute: AdminRoute = (app, deps) => {
  app.post(
    '/admin/tenants/:id/keys',
    {
      schema: {
        tags: [ADMIN_TAG],
        summary: 'Create a gateway key',
        description:
          'Answers the key itself (`gk_...`) once: genway stores only its SHA-256 and cannot show it again. Optional `expires_at`, and `models` / `operations` allowlists checked on every surface before anything is spent (403 `model_not_allowed`, `operation_not_allowed`). The key works at once, on every instance. The tenant may be one of the admin API or of the configuration.',
        security: ADMIN_SECURITY,
        params: TenantIdParamsSchema,
        body: KeyCreateSchema,
        response: { 201: GatewayKeyCreatedSchema, ...problemResponses(400, 401, 404, 413, 415) },
      },
    },
    async (request, reply) => {
      const tenant = request.params.id;
      if (!deps.configTenants.has(tenant) && !(await deps.admin.getTenant(tenant))) {
        throw tenantNotFound(tenant);
      }
      const body = request.body;
      const now = deps.now();
      const expiresAt = body.expires_at ? Date.parse(body.expires_at) : null;
      if (expiresAt !== null && expiresAt <= now) {
        throw GatewayError.invalid([{ path: 'expires_at', message: 'must be in the future' }]);
      }
      const key = `gk_${randomBytes(24).toString('base64url')}`;
      const record: ApiKeyRecord = {
        id: `key_${newUlid()}`,
        tenant,
        name: body.name ?? null,
        prefix: key.slice(0, PREFIX_LENGTH),
        hash: adminKeyHash(key),
        expiresAt,
        models: body.models ?? null,
        operations: body.operations ?? null,
        createdAt: now,
      };
      await deps.admin.insertKey(record);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send({ ...keyView(record), key });
    },
  );
};
