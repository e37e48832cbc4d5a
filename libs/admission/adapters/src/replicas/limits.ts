/** Named maxima of admission's replica routing (units last). Validated by the types and reviewed with the design. */
export const replicaLimits = {
  /** Reads of the group's owners are at least this far apart (a forward failing in a loop would otherwise hammer it). */
  ownerRefreshIntervalMsMin: 100,
  /** Longest wait between two attempts to take a partition over (fence and catch up). */
  acquireRetryMsMax: 1_000,
  /** Longest a request waits to be decided (locally or by the owner) while a partition changes hands. */
  routeDeadlineMsDefault: 2_500,
  /**
   * One forward to an owner may take this long before the owner is looked up again (a paused owner never answers). A
   * loaded owner can be slower than this: the retry carries the same requestId, so it gets the same decision back.
   */
  forwardAttemptMsMax: 1_200,
  /** Keep-alive connections per owner. */
  connectionsPerOwnerMax: 16,
  /** Owners whose connection pools are kept (more replicas than this reconnect). */
  ownersMax: 64,
} as const;
