export { ConfigProblems, ServiceBoot, WorkerBoot, bootService, bootWorker, type KafkaConnection } from './bootstrap';
export { Lifecycle, type LifecycleLogger } from './lifecycle';
