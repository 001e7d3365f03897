import type { Operation } from '../../contracts/common.js';
import type { ModelDescriptor } from '../../domain/ports.js';
import { OPEN_VIDEO_CAPS, type VideoCaps } from '../video-format.js';

/**
 * Replicate model names are open-ended (any public model or version), so genway accepts any
 * well-formed reference, not only the listed ones:
 * - `owner/name:<64-hex version>`: `POST /predictions` with the bare version id;
 * - `owner/name`: an official model, `POST /models/{owner}/{name}/predictions`;
 * - `<64-hex version>` alone (what the official client sends on /replicate/v1).
 */
const NAME_PART = '[A-Za-z0-9][A-Za-z0-9._-]{0,99}';
const VERSION_ID = '[0-9a-f]{64}';
const MODEL_REF = new RegExp(
  `^(?:(${NAME_PART})/(${NAME_PART})(?::(${VERSION_ID}))?|(${VERSION_ID}))$`,
);
/** A REPLICATE_MODELS entry: a model reference, optionally tagged `@video` or `@image`. */
const CONFIGURED_ENTRY = /^(?<ref>[^@\s]+)(?:@(?<kind>video|image))?$/;

export interface ModelRef {
  /** `owner/name`, unless the reference is a bare version id. */
  model?: string;
  /** The 64-hex version id, when the reference names one. */
  version?: string;
}

export function parseModelRef(name: string): ModelRef | undefined {
  const m = MODEL_REF.exec(name);
  if (!m) return undefined;
  const [, owner, model, version, bare] = m;
  if (bare) return { version: bare };
  return { model: `${owner}/${model}`, ...(version ? { version } : {}) };
}

export const DEFAULT_TEXT_TO_IMAGE =
  'stability-ai/stable-diffusion:ac732df83cea7fff18b8472768c88ad041fa750ff7682a21affe81863cbe77e4';
export const DEFAULT_VIDEO = 'minimax/video-01';

/**
 * Models whose output is a video, known without configuration. Any other model is taken as
 * text-to-image unless REPLICATE_MODELS tags it `@video`.
 */
export const KNOWN_VIDEO_MODELS: ReadonlySet<string> = new Set([
  'minimax/video-01',
  'lucataco/animate-diff',
]);

/**
 * The input field a video model reads its start image from, where it is not `image`.
 * `provider_options` can name any other field the model defines.
 */
export const IMAGE_INPUT_FIELD: Readonly<Record<string, string>> = {
  'minimax/video-01': 'first_frame_image',
};

/**
 * How a wished frame and length map onto a video model's input. MiniMax video-01 takes neither
 * (it makes 6 s of 720p, 16:9); any other model is sent `aspect_ratio`, `resolution` and
 * `duration` as asked (its own inputs decide; Replicate validates them).
 */
export const VIDEO_CAPS: Readonly<Record<string, VideoCaps>> = {
  'minimax/video-01': { fixed: { size: '1280x720', seconds: 6 } },
};

/** The video caps of a model reference (`owner/name[:version]`). */
export function videoCapsOf(ref: ModelRef | undefined): VideoCaps {
  return (ref?.model && VIDEO_CAPS[ref.model]) || OPEN_VIDEO_CAPS;
}

const IMAGE_OPERATIONS: Operation[] = ['text-to-image'];
const VIDEO_OPERATIONS: Operation[] = ['text-to-video', 'image-to-video'];

const PROVIDER_OPTIONS_NOTE =
  'any input the model defines (see its page on replicate.com); values must be JSON primitives or arrays of them';

export const IMAGE_LIMITS = {
  num_outputs: { min: 1, max: 4 },
  width: 'model-defined (Replicate validates)',
  height: 'model-defined (Replicate validates)',
  provider_options: PROVIDER_OPTIONS_NOTE,
};
export const VIDEO_LIMITS = {
  duration: 'model-defined (Replicate validates)',
  provider_options: PROVIDER_OPTIONS_NOTE,
};

function descriptor(name: string, video: boolean, isDefault = false): ModelDescriptor {
  return {
    name,
    operations: video ? VIDEO_OPERATIONS : IMAGE_OPERATIONS,
    limits: video ? VIDEO_LIMITS : IMAGE_LIMITS,
    ...(isDefault ? { isDefault } : {}),
  };
}

const isVideoRef = (ref: ModelRef, videoModels: ReadonlySet<string>) =>
  ref.model !== undefined && videoModels.has(ref.model);

/** The catalogue: configured REPLICATE_MODELS plus built-in defaults, and lookups of any ref. */
export class ReplicateCatalogue {
  private readonly listed: ModelDescriptor[];
  private readonly videoModels: Set<string>;

  /** Throws an Error naming REPLICATE_MODELS when an entry is not a model reference. */
  constructor(configured: readonly string[]) {
    this.videoModels = new Set(KNOWN_VIDEO_MODELS);
    const entries: { name: string; kind?: string }[] = [];
    const problems: string[] = [];
    for (const entry of configured) {
      const m = CONFIGURED_ENTRY.exec(entry.trim());
      const name = m?.groups?.ref;
      const ref = name === undefined ? undefined : parseModelRef(name);
      if (!name || !ref?.model) {
        problems.push(
          `REPLICATE_MODELS: "${entry}" is not owner/name, owner/name:<64-hex version>, optionally followed by @video or @image`,
        );
        continue;
      }
      if (m?.groups?.kind === 'video') this.videoModels.add(ref.model);
      if (m?.groups?.kind === 'image') this.videoModels.delete(ref.model);
      entries.push({ name, kind: m?.groups?.kind });
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));

    const defaults = [DEFAULT_TEXT_TO_IMAGE, 'black-forest-labs/flux-schnell', DEFAULT_VIDEO];
    const names = [
      ...entries.map((e) => e.name),
      ...defaults.filter((d) => !entries.some((e) => e.name === d)),
    ];
    this.listed = names.map((name) => {
      const video = isVideoRef(parseModelRef(name) ?? {}, this.videoModels);
      return descriptor(name, video, name === DEFAULT_TEXT_TO_IMAGE || name === DEFAULT_VIDEO);
    });
  }

  models(): ModelDescriptor[] {
    return this.listed;
  }

  /** Any well-formed reference, listed or not (Replicate decides whether it exists). */
  describe(name: string): ModelDescriptor | undefined {
    const listed = this.listed.find((m) => m.name === name);
    if (listed) return listed;
    const ref = parseModelRef(name);
    if (!ref) return undefined;
    // A bare version id may belong to a listed `owner/name:<id>`.
    const owner = ref.model
      ? undefined
      : this.listed.find((m) => m.name.endsWith(`:${ref.version}`));
    if (owner) return { ...owner, isDefault: false };
    return descriptor(name, isVideoRef(ref, this.videoModels));
  }

  isVideo(name: string): boolean {
    return isVideoRef(parseModelRef(name) ?? {}, this.videoModels);
  }
}
