import type { Operation } from '../contracts/common.js';
import type { ModelInfo } from '../contracts/models.js';
import { GatewayError } from '../errors/gateway-error.js';
import type { ModelDescriptor, ProviderAdapter } from './ports.js';

export interface ResolvedModel {
  adapter: ProviderAdapter;
  provider: string;
  /** Upstream model name, as the adapter expects it. */
  model: string;
  /** `provider/model`, as recorded on the task. */
  publicId: string;
}

export interface ProviderEntry {
  adapter: ProviderAdapter;
  emulated: boolean;
}

/** Turns a request's `model` (provider, provider/model or alias) into an adapter and model. */
export class ModelRegistry {
  constructor(
    private readonly providers: ReadonlyMap<string, ProviderEntry>,
    private readonly aliases: Readonly<Record<string, string>>,
  ) {}

  resolve(requested: string, operation: Operation): ResolvedModel {
    // Own keys only: a model named `__proto__` or `constructor` is unknown, not a crash.
    const target = Object.hasOwn(this.aliases, requested) ? this.aliases[requested]! : requested;
    const slash = target.indexOf('/');
    const provider = slash === -1 ? target : target.slice(0, slash);
    const entry = this.providers.get(provider);
    const notFound = (detail: string) =>
      new GatewayError('model_not_found', detail, { errors: [{ path: 'model', message: detail }] });
    if (!entry) throw notFound(`Unknown model "${requested}": see GET /v1/models`);
    const models = entry.adapter.models();
    const descriptor: ModelDescriptor | undefined =
      slash === -1
        ? (models.find((m) => m.isDefault && m.operations.includes(operation)) ??
          models.find((m) => m.operations.includes(operation)))
        : (models.find((m) => m.name === target.slice(slash + 1)) ??
          entry.adapter.describeModel?.(target.slice(slash + 1)));
    if (!descriptor) throw notFound(`Unknown model "${requested}": see GET /v1/models`);
    if (!descriptor.operations.includes(operation)) {
      const detail = `Model "${provider}/${descriptor.name}" does not support ${operation}; it supports ${descriptor.operations.join(', ')}`;
      throw new GatewayError('unsupported_operation', detail, {
        errors: [{ path: 'model', message: detail }],
      });
    }
    return {
      adapter: entry.adapter,
      provider,
      model: descriptor.name,
      publicId: `${provider}/${descriptor.name}`,
    };
  }

  /**
   * Operations of a `provider/model` (listed, or described by an adapter with open-ended model
   * names); empty when the model is unknown. Aliases are not resolved.
   */
  operationsOf(provider: string, model: string): Operation[] {
    const adapter = this.providers.get(provider)?.adapter;
    if (!adapter) return [];
    const descriptor =
      adapter.models().find((m) => m.name === model) ?? adapter.describeModel?.(model);
    return descriptor?.operations ?? [];
  }

  adapter(provider: string): ProviderAdapter | undefined {
    return this.providers.get(provider)?.adapter;
  }

  /** Every usable model with its limits, for GET /v1/models. */
  list(): ModelInfo[] {
    const aliasesOf = (id: string) =>
      Object.entries(this.aliases)
        .filter(([, target]) => target === id)
        .map(([alias]) => alias);
    return [...this.providers.entries()].flatMap(([provider, entry]) =>
      entry.adapter.models().map((m) => ({
        id: `${provider}/${m.name}`,
        object: 'model' as const,
        provider,
        operations: m.operations,
        emulated: entry.emulated,
        aliases: aliasesOf(`${provider}/${m.name}`),
        limits: m.limits,
      })),
    );
  }
}
