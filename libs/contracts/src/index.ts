/**
 * @access/contracts: the public language of the system. Everything here is primitives and zod schemas;
 * services parse with these schemas at their edges and their domain code never sees raw JSON.
 */
export * from './primitives';
export * from './limits';
export * from './events';
export * from './envelope';
export * from './topics';
export { uuidv7, uuidv7TimeMs, uuidv7TimeMsMax, createUuidv7Generator, type RandomSource } from './uuidv7';
export { newEventId } from './ids';
export { goldenEvent, goldenEventJson } from './fixtures';
