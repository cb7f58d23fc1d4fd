// scripts/setup.sh: makes the RabbitMQ template's golden database when this machine has RabbitMQ and
// none is made yet (manager/providers/local/rabbitmq-golden-bake.ts); cheap when it is there.
import { bakeGolden } from '../manager/providers/local/rabbitmq-golden-bake.ts';

try {
  const result = await bakeGolden({ log: (line) => console.error(line) });
  if (result === 'baked') console.error('brokel setup: RabbitMQ golden database made');
} catch (err) {
  // Not fatal: replicas then boot from an empty database, 3–6 s slower.
  console.error(`brokel setup: no RabbitMQ golden database: ${(err as Error).message}`);
}
