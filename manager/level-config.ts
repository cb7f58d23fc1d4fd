/** Each level's section of the config: `levels.brokers`, `levels.orchestrators`. */
export const LEVEL_CONFIG = { broker: 'brokers', orchestrator: 'orchestrators' } as const;
