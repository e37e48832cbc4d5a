/**
 * An admission replica: the real AdmissionService (and so the real AdmissionState) with its ports bound to the
 * simulation: the virtual clock, UUIDv7 ids drawn from the run's Rng, and a DecisionSink that produces to the
 * simulated topics with the producer's faults. It reads balances, ledger positions and completions from the topics
 * as the StateReader does.
 *
 * Replicas: one replica owns every account today. `AdmissionReplicas.replicaFor` is the seam where partitions
 * are taken over by another replica (the admission-replicas work): callers reach the service only through it.
 */
import { AdmissionService, type AdmitOutcome, type CompleteOutcome } from '@access/admission-application';
import {
  createUuidv7Generator,
  EVENTS,
  SOURCES,
  type AdmissionDecidedV1,
  type AnyAccessEvent,
  type BalanceChangedV1,
  type UsageRequestCompletedV1,
} from '@access/contracts';
import type { Message, Topic } from './kafka';
import { FLUSH } from './scheduler';
import type { LedgerMessage, World } from './world';

/**
 * The envelope KafkaDecisionSink's decidedEnvelope/completedEnvelope build, with the simulation's event id (theirs
 * draw a random one from the wall clock, which a replayable run cannot use). envelope.spec.ts checks they agree.
 */
export function envelope<T extends typeof EVENTS.admissionDecided | typeof EVENTS.usageRequestCompleted>(
  type: T,
  id: string,
  time: string,
  data: T extends typeof EVENTS.admissionDecided ? AdmissionDecidedV1 : UsageRequestCompletedV1,
): AnyAccessEvent {
  return { specversion: '1.0', id, source: SOURCES.admission, type, time, subject: data.accountId, datacontenttype: 'application/json', data } as AnyAccessEvent;
}

/**
 * The producer (acks=all, idempotence on): the broker stores the event a little later, or the send fails before
 * it is stored, or it is stored and the ack is lost, or a retry stores it twice.
 */
export class SimSink {
  constructor(
    private readonly world: World,
    private readonly nextEventId: () => string,
  ) {}

  publishDecision(data: AdmissionDecidedV1): Promise<void> {
    const event = envelope(EVENTS.admissionDecided, this.nextEventId(), data.decidedAt, data);
    return this.send(this.world.topics.admissions, event, `decision ${data.admissionId} ${data.decision}`);
  }

  publishCompletion(data: UsageRequestCompletedV1): Promise<void> {
    const event = envelope(EVENTS.usageRequestCompleted, this.nextEventId(), this.world.nowIso, data);
    return this.send(this.world.topics.usage, event, `completion ${data.admissionId}`);
  }

  private send(topic: Topic<AnyAccessEvent>, event: AnyAccessEvent, what: string): Promise<void> {
    const world = this.world;
    let send!: { resolve: () => void; reject: (error: Error) => void };
    const promise = new Promise<void>((resolve, reject) => {
      send = { resolve, reject };
    });
    world.sched.after(world.rng.int(1, 15), `kafka.produce ${topic.name} ${what}`, () => {
      if (world.fault('sendFails')) {
        send.reject(new Error('KafkaJSConnectionError: connection lost'));
        return FLUSH;
      }
      const key = (event.data as { accountId: string }).accountId;
      topic.append(key, event, world.nowMs);
      if (world.fault('sendDuplicated')) topic.append(key, event, world.nowMs);
      if (world.fault('ackLost')) send.reject(new Error('KafkaJSRequestTimeoutError: Request produce timed out'));
      else send.resolve();
      return FLUSH;
    });
    return promise;
  }
}

export class AdmissionReplica {
  readonly service: AdmissionService;
  readonly sink: SimSink;
  /** Per topic and partition, the next offset this replica reads. */
  private readonly positions = new Map<string, number>();
  private readonly wakeScheduled = new Set<string>();
  /** Accounts whose balance or holds changed in this step (the invariants look at these). */
  readonly touched = new Set<string>();

  constructor(
    private readonly world: World,
    readonly id: string,
  ) {
    const clock = { nowMs: () => world.nowMs };
    const random = () => world.rng.next();
    const ids = createUuidv7Generator(() => world.nowMs, random);
    this.sink = new SimSink(world, createUuidv7Generator(() => world.nowMs, random));
    const catalog = world.catalog;
    this.service = new AdmissionService({ catalog, sink: this.sink, clock, ids: { next: ids } });
    this.service.finishReplay();
    this.follow(world.topics.balances as Topic<unknown>, (m) => this.applyBalance(m as Message<BalanceChangedV1>));
    this.follow(world.topics.ledger as Topic<unknown>, (m) => this.applyLedger(m as Message<LedgerMessage>));
    this.follow(world.topics.usage as Topic<unknown>, (m) => this.applyUsage(m as Message<AnyAccessEvent>));
  }

  /** Calls admit; `then` runs with its answer, in the step that settles it (callers return FLUSH). */
  admit(input: Parameters<AdmissionService['admit']>[0], then: (outcome: AdmitOutcome) => void): void {
    this.touched.add(input.accountId);
    void this.service.admit(input).then((outcome) => {
      this.touched.add(input.accountId);
      if (this.world.options.sabotage === 'admission-frees-slot-early' && outcome.kind === 'decided' && outcome.event.decision === 'admitted') {
        // Sabotage: the slot is given back as soon as the answer is out, as if the request had completed.
        this.service.state.applyCompletion(outcome.event.admissionId, outcome.event.estimatedCredits, 'succeeded');
      }
      then(outcome);
    });
  }

  complete(data: UsageRequestCompletedV1, then: (outcome: CompleteOutcome) => void): void {
    void this.service.complete(data).then(then);
  }

  private follow(topic: Topic<unknown>, apply: (message: Message<unknown>) => void): void {
    topic.onAppend((p) => {
      const key = `${topic.name}:${p}`;
      if (this.wakeScheduled.has(key)) return;
      this.wakeScheduled.add(key);
      this.world.sched.after(this.world.rng.int(1, 10), `admission.read ${topic.name}:${p}`, () => {
        this.wakeScheduled.delete(key);
        const log = topic.logs[p]!;
        for (let o = this.positions.get(key) ?? 0; o < log.length; o++) apply(log[o]!);
        this.positions.set(key, log.length);
      });
    });
  }

  private applyBalance(message: Message<BalanceChangedV1>): void {
    this.service.applyBalance(message.value);
    this.touched.add(message.value.accountId);
  }

  private applyLedger(message: Message<LedgerMessage>): void {
    const m = message.value;
    if (m.admissionId === null) return;
    if (m.type === 'credits_reserved' || m.type === 'reservation_settled' || m.type === 'reservation_voided' || m.type === 'reservation_expired') {
      this.service.applyLedgerPosition(m.admissionId, m.version);
    }
  }

  private applyUsage(message: Message<AnyAccessEvent>): void {
    if (message.value.type === EVENTS.usageRequestCompleted) this.service.applyCompleted(message.value.data);
  }
}

/** Which replica serves an account. One replica today; the seam for replicas taking partitions over. */
export class AdmissionReplicas {
  readonly replicas: AdmissionReplica[];
  constructor(world: World) {
    this.replicas = [new AdmissionReplica(world, 'admission-1')];
  }
  replicaFor(_accountId: string): AdmissionReplica {
    return this.replicas[0]!;
  }
}
