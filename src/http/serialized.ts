/**
 * Response bodies whose JSON text is already known (a rendering reused for a hot task): the
 * app's serializer sends the text instead of serializing the object again. Only objects that
 * are never changed afterwards may be registered.
 */
const texts = new WeakMap<object, string>();

export function withJsonText<T extends object>(body: T, json: string): T {
  texts.set(body, json);
  return body;
}

/** The app's response serializer: the known text, else JSON.stringify. */
export function serializeJson(data: unknown): string {
  return (typeof data === 'object' && data !== null && texts.get(data)) || JSON.stringify(data);
}
