/**
 * Credential in-flight slots counted over every instance sharing a store (cluster mode).
 * A slot is held by an unfinished task of the credential (the store counts those itself, as
 * tasks are inserted, move and finish), or by a reservation: a create that took the slot
 * before its task was stored. A reservation lasts a lease; the task's insert turns it into
 * the task's own slot, so an instance that dies between the two leaks its slot for one lease
 * at most, and one that dies later leaks nothing (its tasks finish through the others).
 * Where the store can, a create skips the reservation: its insert checks the cap and takes the
 * slot in the same step (TaskStore.insertWithinCap).
 *
 * One process (memory, SQLite) has no such thing: its pools count in-process.
 */
export interface SharedSlots {
  /**
   * Takes a slot of the credential for `holder` (the task id) if fewer than `cap` are held,
   * atomically over every instance. A holder that already has one keeps it (its lease is
   * renewed). Returns whether the holder has the slot, and how many are held now.
   */
  take(
    provider: string,
    credentialId: string,
    holder: string,
    cap: number,
  ): Promise<{ taken: boolean; held: number }>;
  /**
   * Gives back a reservation of `holder` (its create ended before or without storing its
   * task). A stored unfinished task keeps its slot: only its finish frees it.
   */
  release(provider: string, credentialId: string, holder: string): Promise<void>;
  /** Slots held now per credential of `provider` (tasks and live reservations). */
  held(provider: string, credentialIds: readonly string[]): Promise<Map<string, number>>;
  /**
   * Unfinished tasks of `provider` per tenant, over all instances (what fair shares weigh;
   * reservations, which last only until their task is stored, are not counted).
   */
  heldByTenant(provider: string): Promise<Map<string, number>>;
}
