/** The local stack as a library, for tools that drive the servers themselves (the fault suite stops and starts them). */
export * from './servers';
export { clickhouseMigrationsDir, readiness, provision } from './provision';
export { postgresMigrations } from './migrations';
