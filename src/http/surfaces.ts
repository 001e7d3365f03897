import { openaiApi } from './openai/index.js';
import { replicateApi } from './replicate/index.js';
import { normalizedApi } from './routes/v1/index.js';
import type { Surface, SurfaceRoutes } from './surface.js';

/** Every API surface, in the order they are registered (and their tags listed in OpenAPI). */
export const SURFACE_ROUTES: readonly SurfaceRoutes[] = [normalizedApi, replicateApi, openaiApi];

export const SURFACES: readonly Surface[] = SURFACE_ROUTES.map((s) => s.surface);
