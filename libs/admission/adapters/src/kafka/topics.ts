import { TOPICS } from '@access/contracts';

/** The topics admission reads and writes; tests give each run its own. */
export interface AdmissionTopics {
  readonly admissions: string;
  readonly usage: string;
  readonly ledger: string;
  readonly balances: string;
  readonly limits: string;
  readonly reputation: string;
  readonly deadletter: string;
}

export const DEFAULT_ADMISSION_TOPICS: AdmissionTopics = {
  admissions: TOPICS.admissions,
  usage: TOPICS.usage,
  ledger: TOPICS.ledger,
  balances: TOPICS.balances,
  limits: TOPICS.limits,
  reputation: TOPICS.reputation,
  deadletter: TOPICS.deadletter,
};
