export * from './errors';
export * from './kafka';
export * from './events';
