/** The two ways a batch can lose a race with another process; both retriable from fresh state. */

/** Another process moved a consumer's stored offset: the caller must reload it and start from there. */
export class OffsetFencedError extends Error {
  override readonly name = 'OffsetFencedError';
  readonly retriable = true;
  constructor(readonly topic: string, readonly partition: number) {
    super(`the stored offset of ${topic}[${partition}] was moved by another consumer`);
  }
}

/** Every retry collided with another writer. Retriable: the next attempt starts from fresh states. */
export class AppendConflictError extends Error {
  override readonly name = 'AppendConflictError';
  readonly retriable = true;
}
