import mqttPacket from 'mqtt-packet';

/**
 * mqtt-packet, for every process of ours that generates packets. Its first generate() would build a
 * cache of 65,536 two-byte Buffers for packet ids and lengths: 6 MB of heap (65,675 Buffer objects, a
 * heap snapshot of an idle orchestrator), kept for the process's life, about a tenth of an orchestrator
 * replica's idle RSS. Without it each number is a 2-byte slice of Node's buffer pool; the hot path
 * (PUBLISH and its acknowledgements) writes its own bytes anyway (orchestrator/protocol/raw-write.ts).
 */
mqttPacket.writeToStream.cacheNumbers = false;

export default mqttPacket;
