/**
 * The demo `npm start` runs next to the services. A sora-2 fleet much smaller than the simulated studio's batch
 * demand: its backlog keeps it saturated after admission cuts batch, so load-feedback steps batch down to 0
 * (load_shed) within the first minute; codex-1 has room to spare. FLEET_MODELS in the environment wins.
 */
export const DEMO_FLEET_MODELS = 'codex-1:400,sora-2:20';
