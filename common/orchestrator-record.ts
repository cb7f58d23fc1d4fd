/**
 * What geo-dns knows of one orchestrator, and what the manager tells it: where clients reach it,
 * where it is, how busy. Shared here because neither geo-dns nor the manager imports the other.
 */
export interface OrchestratorRecord {
  id: string;
  /** An IPv4 or IPv6 literal: A answers take the IPv4 ones, AAAA the IPv6 ones. */
  host: string;
  port: number;
  state: 'ready' | 'draining';
  /** Smoothed CPU load (0 = idle, 1 = its quota); breaks ties between equally near orchestrators. */
  load: number;
  location?: { lat: number; lon: number; region?: string };
}
