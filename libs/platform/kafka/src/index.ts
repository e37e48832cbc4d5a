export * from './errors';
export * from './kafka';
export * from './events';
export * from './partition-group';
export * from './partitioner';
export * from './transactional';
export * from './decode';
export * from './limits';
