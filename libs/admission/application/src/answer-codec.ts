import type { AppliedLimit, Funding, RejectionReason } from '@access/contracts';
import type { DecisionAnswer } from './decision-answer';

/** Distinct strings (plans, price-book versions, layers, allowance windows, limit names) one codec may intern. */
const INTERNED_MAX = 65_536;
const FINGERPRINT_BYTES = 8;
/** Fundings or limits in one answer (the contract allows 8 and 16). */
const COUNT_MAX = 256;
const UUID_BYTES = 16;
/** Offset of decidedAtMs: after the fingerprint, the flags byte and the admissionId. */
const DECIDED_AT_OFFSET = FINGERPRINT_BYTES + 1 + UUID_BYTES;

const REASONS: readonly (RejectionReason | null)[] = [null, 'rate_limited', 'concurrency_limited', 'load_shed', 'insufficient_credits'];
const FLAG_ADMITTED = 1;
const REASON_SHIFT = 1; // 3 bits
const FLAG_RESERVATION = 1 << 4;
const FLAG_RETRY_AFTER = 1 << 5;
const FLAG_AVAILABLE = 1 << 6;
const FLAG_NEUTRAL_MULTIPLIERS = 1 << 7;
/** A whole number below this is written as a varint; anything else (fractions, negatives, -0, ∞) as a float64. */
const VARINT_LIMIT = 2 ** 48;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Packs the essentials of a decision's answer (DecisionAnswer without requestId, which is in the key) behind its
 * request's 8-byte fingerprint digest into one latin1 string: about 100 bytes for an admission with five limits, where
 * the decision event as objects takes about 2 KB of heap. A string holds no pointers, so a million of them cost the
 * garbage collector nothing to trace, and the same bytes go to the cold tier's files unchanged.
 *
 * Exact by construction, so a replay renders byte for byte what the first answer rendered (answer-codec.spec.ts):
 * numbers are whole-number varints or float64s (never rounded), times are the milliseconds of canonical ISO strings
 * (the contract's format, asserted), the admissionId is its 16 bytes (lowercase hex, asserted), strings are interned,
 * and objects are rebuilt with the keys in the order the domain and the contract schema give them.
 */
export class AnswerCodec {
  private readonly strings: string[] = [];
  private readonly ids = new Map<string, number>();
  private readonly buffer = Buffer.alloc(64 * 1024);
  private pos = 0;

  get internedStrings(): number {
    return this.strings.length;
  }

  encode(fingerprint: string, a: DecisionAnswer): string {
    if (fingerprint.length !== FINGERPRINT_BYTES) throw new Error('a fingerprint digest is 8 bytes');
    const b = this.buffer;
    b.write(fingerprint, 0, 'latin1');
    const reason = REASONS.indexOf(a.reason);
    const neutral = a.multipliers.load === 1 && a.multipliers.reputation === 1;
    b[FINGERPRINT_BYTES] =
      (a.decision === 'admitted' ? FLAG_ADMITTED : 0) |
      (reason << REASON_SHIFT) |
      (a.reservationExpiresAt !== null ? FLAG_RESERVATION : 0) |
      (a.retryAfterMs !== null ? FLAG_RETRY_AFTER : 0) |
      (a.availableCredits !== null ? FLAG_AVAILABLE : 0) |
      (neutral ? FLAG_NEUTRAL_MULTIPLIERS : 0);
    writeUuid(b, FINGERPRINT_BYTES + 1, a.admissionId);
    this.pos = DECIDED_AT_OFFSET;
    const decidedAtMs = canonicalMs(a.decidedAt);
    this.number(decidedAtMs);
    if (a.reservationExpiresAt !== null) this.number(canonicalMs(a.reservationExpiresAt) - decidedAtMs);
    this.string(a.decidedBy);
    this.string(a.plan);
    this.string(a.priceBookVersion);
    this.number(a.estimatedCredits);
    this.number(a.heldCredits);
    if (a.retryAfterMs !== null) this.number(a.retryAfterMs);
    if (a.availableCredits !== null) this.number(a.availableCredits);
    if (!neutral) {
      this.number(a.multipliers.load);
      this.number(a.multipliers.reputation);
    }
    if (a.fundedBy.length > COUNT_MAX || a.limits.length > COUNT_MAX) throw new Error('a decision answer with too many fundings or limits to pack');
    this.varint(a.fundedBy.length);
    for (const f of a.fundedBy) {
      // 0 is the credits source; an allowance window is its interned id + 1.
      this.varint(f.source === 'credits' ? 0 : this.intern(f.window) + 1);
      this.number(f.credits);
    }
    this.varint(a.limits.length);
    for (const l of a.limits) {
      this.string(l.name);
      this.number(l.limit);
      this.number(l.remaining);
      this.number(l.resetMs);
    }
    // Schema-valid answers stay far below the buffer (at most 8 fundings and 16 limits, about 700 bytes).
    if (this.pos > b.length - 64) throw new Error('a decision answer too large to pack');
    return b.toString('latin1', 0, this.pos);
  }

  /** The answer a record holds, for the request `requestId` (the key's half of it). */
  decode(record: string, requestId: string): DecisionAnswer {
    const b = this.buffer;
    b.write(record, 0, 'latin1');
    const flags = b[FINGERPRINT_BYTES] as number;
    const admissionId = readUuid(b, FINGERPRINT_BYTES + 1);
    this.pos = DECIDED_AT_OFFSET;
    const decidedAtMs = this.readNumber();
    const reservationExpiresAt = flags & FLAG_RESERVATION ? new Date(decidedAtMs + this.readNumber()).toISOString() : null;
    const decidedBy = this.readString() as DecisionAnswer['decidedBy'];
    const plan = this.readString();
    const priceBookVersion = this.readString();
    const estimatedCredits = this.readNumber();
    const heldCredits = this.readNumber();
    const retryAfterMs = flags & FLAG_RETRY_AFTER ? this.readNumber() : null;
    const availableCredits = flags & FLAG_AVAILABLE ? this.readNumber() : null;
    const multipliers = flags & FLAG_NEUTRAL_MULTIPLIERS ? { load: 1, reputation: 1 } : { load: this.readNumber(), reputation: this.readNumber() };
    const fundedBy: Funding[] = [];
    for (let n = this.readVarint(); n > 0; n--) {
      const source = this.readVarint();
      const credits = this.readNumber();
      fundedBy.push(source === 0 ? { source: 'credits', credits } : { source: 'allowance', window: this.stringAt(source - 1), credits });
    }
    const limits: AppliedLimit[] = [];
    for (let n = this.readVarint(); n > 0; n--) {
      limits.push({ name: this.readString(), limit: this.readNumber(), remaining: this.readNumber(), resetMs: this.readNumber() });
    }
    return {
      admissionId,
      requestId,
      plan,
      decision: flags & FLAG_ADMITTED ? 'admitted' : 'rejected',
      reason: REASONS[(flags >> REASON_SHIFT) & 7] ?? null,
      decidedBy,
      estimatedCredits,
      fundedBy,
      heldCredits,
      reservationExpiresAt,
      limits,
      multipliers,
      priceBookVersion,
      retryAfterMs,
      availableCredits,
      decidedAt: new Date(decidedAtMs).toISOString(),
    };
  }

  // ---------------------------------------------------------------- writing

  private intern(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      // The vocabulary comes from plans.yaml and the price book; this many distinct strings means a bug, not load.
      if (this.strings.length >= INTERNED_MAX) throw new Error(`more than ${INTERNED_MAX} distinct strings in decisions`);
      id = this.strings.length;
      this.strings.push(s);
      this.ids.set(s, id);
    }
    return id;
  }

  private string(s: string): void {
    this.varint(this.intern(s));
  }

  private varint(n: number): void {
    const b = this.buffer;
    let v = n;
    while (v >= 128) {
      b[this.pos++] = (v % 128) | 128;
      v = Math.floor(v / 128);
    }
    b[this.pos++] = v;
  }

  /** Whole numbers in [0, 2^48) as a varint of 2n (low bit 0); anything else as 0x01 and a float64. */
  private number(n: number): void {
    if (Number.isInteger(n) && n >= 0 && n < VARINT_LIMIT && !Object.is(n, -0)) {
      this.varint(n * 2);
      return;
    }
    this.buffer[this.pos] = 1;
    this.buffer.writeDoubleLE(n, this.pos + 1);
    this.pos += 9;
  }

  // ---------------------------------------------------------------- reading

  private stringAt(id: number): string {
    const s = this.strings[id];
    if (s === undefined) throw new Error(`record names string ${id}, which this codec never interned`);
    return s;
  }

  private readString(): string {
    return this.stringAt(this.readVarint());
  }

  private readVarint(): number {
    const b = this.buffer;
    let n = 0;
    let scale = 1;
    for (;;) {
      const byte = b[this.pos++] as number;
      n += (byte & 127) * scale;
      if (byte < 128) return n;
      scale *= 128;
    }
  }

  private readNumber(): number {
    if (((this.buffer[this.pos] as number) & 1) === 0) return this.readVarint() / 2;
    const n = this.buffer.readDoubleLE(this.pos + 1);
    this.pos += 9;
    return n;
  }
}

/** The fingerprint digest a record starts with. */
export function recordFingerprint(record: string): string {
  return record.slice(0, FINGERPRINT_BYTES);
}

/** When the record's decision was made (its idempotency entry expires a TTL later), read without decoding the rest. */
export function recordDecidedAtMs(record: string): number {
  let n = 0;
  let scale = 1;
  for (let i = DECIDED_AT_OFFSET; ; i++) {
    const byte = record.charCodeAt(i);
    n += (byte & 127) * scale;
    if (byte < 128) return n / 2;
    scale *= 128;
  }
}

function canonicalMs(iso: string): number {
  const ms = Date.parse(iso);
  // The contract's times are what Date#toISOString gives; anything else would not come back byte for byte.
  if (!Number.isFinite(ms) || new Date(ms).toISOString() !== iso) throw new Error(`${iso} is not a canonical ISO-8601 UTC time`);
  if (ms < 0 || ms >= VARINT_LIMIT / 2) throw new Error(`${iso} is outside the times a record holds`);
  return ms;
}

function writeUuid(b: Buffer, at: number, uuid: string): void {
  if (!UUID_PATTERN.test(uuid)) throw new Error(`${uuid} is not a lowercase UUID`);
  b.write(uuid.replace(/-/g, ''), at, UUID_BYTES, 'hex');
}

function readUuid(b: Buffer, at: number): string {
  const hex = b.toString('hex', at, at + UUID_BYTES);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
