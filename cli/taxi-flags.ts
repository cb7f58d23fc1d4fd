/** Where taxi clients connect: `--url URL`, or `--dns HOST:PORT` with `--name` and `--port`. */
export const TARGET_OPTIONS = {
  'mqtt-version': { type: 'string', default: '4' },
  url: { type: 'string' },
  dns: { type: 'string' },
  name: { type: 'string', default: 'mqtt.brokel.test' },
  port: { type: 'string', default: '1883' },
} as const;
