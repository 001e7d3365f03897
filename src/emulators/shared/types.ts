/** One request as an emulator saw it; tests assert on these (keys carried, creates counted). */
export interface RecordedCall {
  method: string;
  /** Path with query string, as received. */
  path: string;
  /** Lower-cased header names. */
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
  at: number;
}

/** What every emulator's `start…Emulator()` returns. */
export interface EmulatorHandle {
  /** Origin the emulator listens on, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly calls: RecordedCall[];
  close(): Promise<void>;
}
