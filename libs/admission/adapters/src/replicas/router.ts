import { OwnershipTable } from '@access/admission-application';
import { PROBLEM_CONTENT_TYPE, problem } from '@access/platform-http';
import { ownerUnavailable, type HttpAnswer } from '../http/render';
import { DECIDED_BY_HEADER, Forwarder, NOT_OWNER_HEADER, type ForwardedAnswer, type OwnerClient } from './forwarder';
import { replicaLimits } from './limits';

/** A request that needs the owner of its account: what the edge parsed, and what to forward if it is elsewhere. */
export interface RoutedRequest {
  readonly accountId: string;
  /** Path and query to forward (the same route on the owner). */
  readonly path: string;
  /** Headers to pass on: authorization, traceparent. */
  readonly headers: Record<string, string>;
  /** The body as JSON text; serialized only when the request is forwarded (most are decided where they arrive). */
  readonly body: () => string;
  /** The forwarding replica's id when this request was forwarded here (one hop only). */
  readonly forwardedBy: string | undefined;
}

/** The owner's answer, or this replica's own. */
export type RoutedAnswer = { readonly kind: 'local'; readonly answer: HttpAnswer } | { readonly kind: 'forwarded'; readonly answer: ForwardedAnswer };

/** What deciding locally gives: an answer, or 'not_owner' when the partition moved away meanwhile. */
export type LocalDecision = () => Promise<HttpAnswer | 'not_owner'>;

export interface OwnerDirectory {
  refreshOwners(): Promise<void>;
}

/**
 * Any replica accepts any request (CONTRACTS.md): the owner of the account's partition decides, and every other
 * replica forwards to it and returns its answer unchanged. While a partition changes hands the request waits, up to
 * its deadline, for the new owner; then it is answered 503 with Retry-After. It was decided nowhere, unless a forward
 * timed out after the owner had taken the request in: the owner may then have decided it, and the caller's retry with
 * the same requestId (which Retry-After invites, and which the router does itself within the deadline) gets that
 * decision back rather than a second one.
 */
export class AdmissionRouter {
  constructor(
    private readonly table: OwnershipTable,
    private readonly owners: OwnerDirectory,
    private readonly forwarder: OwnerClient,
    private readonly deadlineMs: number = replicaLimits.routeDeadlineMsDefault,
    private readonly onForward?: (outcome: 'answered' | 'failed' | 'not_owner') => void,
  ) {}

  async route(request: RoutedRequest, decideLocally: LocalDecision): Promise<RoutedAnswer> {
    const deadline = Date.now() + this.deadlineMs;
    const partition = this.table.partitionOfAccount(request.accountId);
    for (;;) {
      const owner = this.table.ownerOf(partition);
      if (owner.kind === 'owned') {
        const answer = await decideLocally();
        if (answer !== 'not_owner') return { kind: 'local', answer: { ...answer, headers: { ...answer.headers, [DECIDED_BY_HEADER]: this.forwarder.replicaId } } };
        continue;
      }
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) return { kind: 'local', answer: request.forwardedBy === undefined ? ownerUnavailable() : notOwner() };
      if (owner.kind === 'remote' && request.forwardedBy === undefined) {
        const answer = await this.forward(owner.url, partition, request, Math.min(remainingMs, replicaLimits.forwardAttemptMsMax));
        if (answer !== null) return { kind: 'forwarded', answer };
        // The partition may have moved while the owner did not answer: then route again at once, else wait for it.
        if (this.table.ownerOf(partition) === owner) await this.table.changed(partition, Math.min(deadline - Date.now(), replicaLimits.forwardAttemptMsMax));
        continue;
      }
      // Forwarded here, but this replica is not (or no longer, or not yet) the owner: one hop only, so the forwarder
      // looks the owner up again. A partition being taken over here is worth waiting for.
      if (request.forwardedBy !== undefined && owner.kind !== 'acquiring') return { kind: 'local', answer: notOwner() };
      if (owner.kind === 'unknown') void this.owners.refreshOwners();
      await this.table.changed(partition, remainingMs);
    }
  }

  /**
   * The owner's answer, or null when it did not give one (unreachable, timed out, or no longer the owner). A forward
   * still waiting when the partition changes hands is given up at once: a paused owner never answers, and the new
   * owner either has the old owner's committed decision (the same requestId gets it back) or decides afresh.
   */
  private async forward(url: string, partition: number, request: RoutedRequest, timeoutMs: number): Promise<ForwardedAnswer | null> {
    const moved = new AbortController();
    const stopWatching = this.table.onNextChange(partition, () => moved.abort());
    try {
      const answer = await this.forwarder.post(url, request.path, request.headers, request.body(), timeoutMs, moved.signal);
      if (answer.headers[NOT_OWNER_HEADER] === undefined) {
        this.onForward?.('answered');
        return answer;
      }
      this.onForward?.('not_owner');
    } catch {
      this.onForward?.('failed');
    } finally {
      stopWatching();
    }
    void this.owners.refreshOwners();
    return null;
  }
}

/** The answer of a replica a request was forwarded to that does not own the account (the forwarder retries). */
function notOwner(): HttpAnswer {
  return {
    status: 503,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, 'retry-after': '1', [NOT_OWNER_HEADER]: '1' },
    body: problem(503, 'ADMISSION.NOT_OWNER', "This replica does not own the account's partition."),
  };
}

/** A router for a lone instance that decides for every account (HTTP tests and tools without replicas). */
export function soloRouter(): AdmissionRouter {
  const table = new OwnershipTable(1, () => 0);
  table.set(0, { kind: 'owned' });
  return new AdmissionRouter(table, { refreshOwners: () => Promise.resolve() }, new Forwarder('solo'));
}
