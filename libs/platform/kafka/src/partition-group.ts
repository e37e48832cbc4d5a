/**
 * Partition ownership through a Kafka consumer group: the members of one group over one topic share its
 * partitions, each member publishes a small piece of data (admission: the URL other replicas forward to) in its
 * group metadata, and every member can read who owns what from the group itself (DescribeGroups). No coordinator
 * of our own: the group coordinator detects a dead member (session timeout) and the leader reassigns.
 *
 * The assignment is balanced and sticky: a member keeps the partitions it owned as long as it stays within its
 * share, so a member joining or leaving moves only the partitions it must (the eager protocol of kafkajs still
 * makes every member rejoin, but ownership of the unmoved partitions does not change hands).
 */
import { AssignerProtocol, type Admin, type Consumer, type GroupMember, type Kafka, type PartitionAssigner } from 'kafkajs';
import { errorMessage } from './errors';

/** The named maxima of a partition group (units last). */
export const partitionGroupLimits = {
  /** The leader waits this long at least for members to rejoin during a rebalance. */
  rebalanceTimeoutMsMin: 3_000,
  /** Longest fetch wait; heartbeats are sent between fetches, so this bounds their delay. */
  fetchWaitMsMax: 100,
  /** The member reads the topic only to stay in the group: a small fetch is enough. */
  fetchBytesPerPartitionMax: 1_024,
  joinRetries: 1_000,
  /** Wait before starting a member again after kafkajs stopped it for good. */
  restartDelayMs: 500,
} as const;

export interface PartitionGroupOptions {
  readonly groupId: string;
  readonly topic: string;
  /** This member's public data (opaque to the group), read by the others through `describe()`. */
  readonly memberData: string;
  /** How long the coordinator waits for a silent member before giving its partitions away. */
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /**
   * Called at every (re)join with the partitions this member now owns, in ascending order. `rejoined` is true when the
   * member came back under a new member id: the coordinator had dropped it (a paused process, a missed session), so
   * the group may have given its partitions to others in between, and nothing it held before can be trusted.
   */
  readonly onAssigned: (partitions: readonly number[], generation: number, rejoined: boolean) => void;
  /** kafkajs stopped the member for good (it is restarted with backoff); for logs. */
  readonly onError?: (error: unknown) => void;
}

/** One member of the group as DescribeGroups reports it. */
export interface PartitionGroupMember {
  readonly memberId: string;
  readonly data: string;
  readonly partitions: readonly number[];
}

export interface PartitionGroupView {
  /** `Stable` when the assignment below is the one in force; during a rebalance the partitions are empty. */
  readonly state: string;
  readonly members: readonly PartitionGroupMember[];
}

interface MemberUserData {
  /** The member's public data. */
  readonly d: string;
  /** Partitions it owns now, for stickiness. */
  readonly owned: readonly number[];
}

const ASSIGNER_NAME = 'AccessStickyBalanced';
const ASSIGNER_VERSION = 1;

/**
 * Balanced sticky assignment of `partitions` to `members` (each with the partitions it claims to own now):
 * every member ends with ⌊n/m⌋ or ⌈n/m⌉ partitions, a member keeps what it owned up to its share, and what is
 * left goes to the members with the fewest. Deterministic for a given input (members sorted by id), so that any
 * member computing it gets the same answer. Pure: tested exhaustively in partition-group.spec.ts.
 */
export function assignSticky(partitions: readonly number[], members: readonly { id: string; owned: readonly number[] }[]): Map<string, number[]> {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const out = new Map<string, number[]>(sorted.map((m) => [m.id, []]));
  if (sorted.length === 0) return out;
  const all = [...new Set(partitions)].sort((a, b) => a - b);
  const base = Math.floor(all.length / sorted.length);
  let extra = all.length % sorted.length;
  const taken = new Set<number>();
  const available = new Set(all);
  // Members that keep more than the base share use up the `extra` slots first, in id order.
  const quota = new Map<string, number>();
  for (const m of sorted) {
    const owned = m.owned.filter((p) => available.has(p));
    const wantsExtra = owned.length > base && extra > 0;
    if (wantsExtra) extra -= 1;
    quota.set(m.id, base + (wantsExtra ? 1 : 0));
  }
  for (const m of sorted) {
    const mine = out.get(m.id) as number[];
    const limit = quota.get(m.id) as number;
    for (const p of [...m.owned].sort((a, b) => a - b)) {
      if (mine.length >= limit) break;
      if (!available.has(p) || taken.has(p)) continue;
      taken.add(p);
      mine.push(p);
    }
  }
  // The remaining extra slots go to members in id order, then everything left to whoever has fewest.
  for (const m of sorted) {
    if (extra === 0) break;
    if ((quota.get(m.id) as number) === base) {
      quota.set(m.id, base + 1);
      extra -= 1;
    }
  }
  for (const p of all) {
    if (taken.has(p)) continue;
    const target = sorted.find((m) => (out.get(m.id) as number[]).length < (quota.get(m.id) as number)) ?? sorted[0];
    if (target === undefined) break;
    (out.get(target.id) as number[]).push(p);
    taken.add(p);
  }
  for (const list of out.values()) list.sort((a, b) => a - b);
  return out;
}

function encodeUserData(data: MemberUserData): Buffer {
  return Buffer.from(JSON.stringify(data), 'utf8');
}

function decodeUserData(buffer: Buffer | null | undefined): MemberUserData {
  if (buffer === null || buffer === undefined || buffer.length === 0) return { d: '', owned: [] };
  try {
    const parsed = JSON.parse(buffer.toString('utf8')) as Partial<MemberUserData>;
    return { d: typeof parsed.d === 'string' ? parsed.d : '', owned: Array.isArray(parsed.owned) ? parsed.owned.filter((p) => Number.isInteger(p)) : [] };
  } catch {
    return { d: '', owned: [] };
  }
}

/** A member of a partition-owning group. Start it, read `owned`, stop it to hand the partitions over at once. */
export class PartitionGroup {
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private owned: readonly number[] = [];
  private generation = 0;
  private memberId = '';
  private stopping = false;
  private running = false;

  constructor(
    kafka: Kafka,
    private readonly options: PartitionGroupOptions,
  ) {
    const assigner: PartitionAssigner = ({ cluster }) => ({
      name: ASSIGNER_NAME,
      version: ASSIGNER_VERSION,
      assign: async ({ members, topics }: { members: GroupMember[]; topics: string[] }) => {
        const partitions = topics.flatMap((topic) => cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId));
        const decoded = members.map((m) => ({ id: m.memberId, owned: decodeUserData(AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData).owned }));
        const plan = assignSticky(partitions, decoded);
        return members.map((m) => ({
          memberId: m.memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: ASSIGNER_VERSION, assignment: { [options.topic]: plan.get(m.memberId) ?? [] }, userData: Buffer.alloc(0) }),
        }));
      },
      protocol: ({ topics }: { topics: string[] }) => ({
        name: ASSIGNER_NAME,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: ASSIGNER_VERSION, topics, userData: encodeUserData({ d: options.memberData, owned: this.owned }) }),
      }),
    });
    this.admin = kafka.admin();
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      partitionAssigners: [assigner],
      sessionTimeout: options.sessionTimeoutMs,
      rebalanceTimeout: Math.max(options.sessionTimeoutMs, partitionGroupLimits.rebalanceTimeoutMsMin),
      heartbeatInterval: options.heartbeatIntervalMs,
      // Heartbeats ride on the fetch loop: a short wait keeps them on time while nothing is produced.
      maxWaitTimeInMs: Math.min(partitionGroupLimits.fetchWaitMsMax, options.heartbeatIntervalMs),
      // The messages are not needed (ownership is the point); fetch as little of them as Kafka allows.
      maxBytesPerPartition: partitionGroupLimits.fetchBytesPerPartitionMax,
      allowAutoTopicCreation: false,
      retry: { retries: partitionGroupLimits.joinRetries, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      const partitions = [...(event.payload.memberAssignment[options.topic] ?? [])].sort((a, b) => a - b);
      const rejoined = this.memberId !== '' && event.payload.memberId !== this.memberId;
      this.memberId = event.payload.memberId;
      this.generation += 1;
      this.owned = partitions;
      options.onAssigned(partitions, this.generation, rejoined);
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      if (this.stopping) return;
      // Whatever happened, this member owns nothing until it has joined again.
      this.owned = [];
      this.memberId = '';
      this.generation += 1;
      options.onAssigned([], this.generation, true);
      options.onError?.(event.payload.error);
      if (!event.payload.restart) {
        this.running = false;
        setTimeout(() => void this.restart(), partitionGroupLimits.restartDelayMs).unref();
      }
    });
  }

  get partitions(): readonly number[] {
    return this.owned;
  }

  get isRunning(): boolean {
    return this.running;
  }

  async start(): Promise<void> {
    await this.admin.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.options.topic], fromBeginning: false });
    await this.run();
  }

  private async run(): Promise<void> {
    // Messages are read (heartbeats ride on fetches) and dropped: the state reader applies them.
    await this.consumer.run({ autoCommit: false, eachBatchAutoResolve: true, eachBatch: async () => undefined });
    this.running = true;
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    try {
      await this.consumer.connect();
      await this.run();
    } catch (error) {
      this.options.onError?.(error);
      setTimeout(() => void this.restart(), partitionGroupLimits.restartDelayMs).unref();
    }
  }

  /**
   * True when the coordinator, in a stable generation, assigns `partition` to this member: the authority on who owns a
   * partition when this process's view may be stale (a paused member's session has expired and its id is gone).
   */
  async assignsHere(partition: number): Promise<boolean | 'rebalancing'> {
    const view = await this.describe();
    if (view.state !== 'Stable') return 'rebalancing';
    return this.memberId !== '' && view.members.some((m) => m.memberId === this.memberId && m.partitions.includes(partition));
  }

  /** The group as the coordinator sees it: each member's data and partitions. */
  async describe(): Promise<PartitionGroupView> {
    const { groups } = await this.admin.describeGroups([this.options.groupId]);
    const group = groups[0];
    if (group === undefined) return { state: 'Dead', members: [] };
    return {
      state: group.state,
      members: group.members.map((m) => {
        let partitions: number[] = [];
        try {
          const decoded = m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
          partitions = decoded?.assignment[this.options.topic] ?? [];
        } catch (error) {
          this.options.onError?.(new Error(`undecodable assignment of member ${m.memberId}: ${errorMessage(error)}`));
        }
        const metadata = m.memberMetadata.length > 0 ? AssignerProtocol.MemberMetadata.decode(m.memberMetadata) : null;
        return { memberId: m.memberId, data: decodeUserData(metadata?.userData).d, partitions };
      }),
    };
  }

  /** Leaves the group at once (the coordinator reassigns without waiting for the session timeout). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.owned = [];
    await this.consumer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
    this.running = false;
  }
}
