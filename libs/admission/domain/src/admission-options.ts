import { admissionLimits } from './limits';

/** Capacity limits a caller may lower (tests, small instances); the arithmetic limits are fixed. */
export interface AdmissionCapacity {
  readonly openAdmissionsMax: number;
  readonly accountsMax: number;
  readonly usersPerAccountMax: number;
  readonly earlyReservationsMax: number;
}

export interface AdmissionOptions {
  /** Retry hint for load_shed: the load-feedback controller restores capacity on a cadence of seconds. */
  readonly loadShedRetryAfterMs: number;
  readonly capacity: AdmissionCapacity;
}

export const DEFAULT_ADMISSION_OPTIONS: AdmissionOptions = {
  loadShedRetryAfterMs: 15_000,
  capacity: {
    openAdmissionsMax: admissionLimits.openAdmissionsMax,
    accountsMax: admissionLimits.accountsMax,
    usersPerAccountMax: admissionLimits.usersPerAccountMax,
    earlyReservationsMax: admissionLimits.earlyReservationsMax,
  },
};
