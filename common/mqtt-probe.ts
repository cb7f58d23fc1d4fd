import type { Socket } from 'node:net';
import { TimeoutError } from './errors.ts';
import mqttPacket from './mqtt-packet.ts';
import { type BrokerTls, connectBroker } from './net/broker-socket.ts';

export interface ProbeOptions {
  host: string;
  port: number;
  timeoutMs?: number;
  protocolVersion?: 4 | 5;
  username?: string;
  password?: string;
  clientId?: string;
  /** TLS, verified against this CA (an `mqtts://` broker). */
  tls?: BrokerTls | undefined;
}

export interface ProbeResult {
  /** CONNACK return code (3.1.1) or reason code (5.0); 0 is accepted. */
  returnCode: number;
  elapsedMs: number;
}

/**
 * The readiness probe: one MQTT CONNECT answered by a CONNACK (any code: a broker that refuses an
 * anonymous probe is still up). Rejects on connection errors, a close before CONNACK, or time-out.
 */
export function probeMqtt(options: ProbeOptions): Promise<ProbeResult> {
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 2000;
  const protocolVersion = options.protocolVersion ?? 4;
  return new Promise((resolve, reject) => {
    const parser = mqttPacket.parser({ protocolVersion });
    let socket: Socket | undefined;
    let settled = false;
    const finish = (err: Error | undefined, result?: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      if (err) reject(err);
      else if (result) resolve(result);
    };
    const timer = setTimeout(
      () => finish(new TimeoutError(`CONNACK from ${options.host}:${options.port}`, timeoutMs)),
      timeoutMs,
    );
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connack') {
        const code =
          (packet as mqttPacket.IConnackPacket).reasonCode ??
          (packet as mqttPacket.IConnackPacket).returnCode ??
          0;
        if (code === 0) socket?.write(mqttPacket.generate({ cmd: 'disconnect' }, { protocolVersion }));
        finish(undefined, { returnCode: code, elapsedMs: performance.now() - started });
      }
    });
    parser.on('error', (err) => finish(err));
    const opened = connectBroker(options.host, options.port, options.tls);
    socket = opened.socket;
    socket.on(opened.ready, () => {
      const connect: mqttPacket.IConnectPacket = {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion,
        clean: true,
        keepalive: 10,
        clientId: options.clientId ?? `brokel-probe-${process.pid}-${Math.floor(Math.random() * 1e9)}`,
        ...(options.username === undefined ? {} : { username: options.username }),
        ...(options.password === undefined ? {} : { password: Buffer.from(options.password) }),
      };
      socket?.write(mqttPacket.generate(connect, { protocolVersion }));
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error(`${options.host}:${options.port} closed before CONNACK`)));
  });
}
