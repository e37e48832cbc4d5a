export { DEFAULT_ADMISSION_OPTIONS, type AdmissionCapacity, type AdmissionOptions } from './admission-options';
export { AdmissionState, type AccountView, type AdmissionStateConfig } from './admission-state';
export {
  LIMIT_NAMES,
  REQUESTS_LIMIT_WINDOW_MS,
  allowanceLimitName,
  type AdmissionError,
  type AdmissionErrorCode,
  type AdmissionRequest,
  type ApplyResult,
  type BalanceUpdate,
  type CompletionOutcome,
  type CompletionStatus,
  type DecideResult,
  type DecidedBy,
  type Decision,
  type FundingSource,
  type LimitReport,
  type Rejection,
  type ReplayableDecision,
} from './decision';
export * as gcra from './gcra';
export type { GcraCell, GcraResult } from './gcra';
export { admissionLimits, validateAdmissionLimits, type AdmissionLimits } from './limits';
export { RollingWindow } from './rolling-window';
export { effectiveLimit } from './waterfall';
