/**
 * @access/load-feedback-simulation: load-feedback without GPUs. A fleet model (demand in, utilization, queue
 * and latency out), the fleet simulator that apps/fleet-simulator runs against Kafka, and the closed-loop
 * simulation that drives the controller, the fleet model and admission's real decision function in one process
 * (src/closed-loop.ts, with its spec and its chart script in scripts/; not exported, so that the fleet simulator
 * does not load admission's domain at start). Kept out of the load-feedback domain: it is a test bench, and the
 * closed loop depends on admission's domain, which the load-feedback domain must not.
 */
export { createFleetModel, toLoadSample, type FleetModel, type FleetModelParams, type FleetObservation, type FleetState, type FleetStepInput } from './fleet-model';
export { FleetSimulator, fleetSimulatorLimits, type SimulatedFleet } from './fleet-simulator';
