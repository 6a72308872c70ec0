/** The read-only view of services and instances that the dashboard and the alert rules consume. */

/** One upstream instance as the gateway currently sees it. */
export interface InstanceView {
  readonly id: string;
  readonly url: string;
  readonly healthy: boolean;
  readonly weight: number;
  readonly inFlight: number;
  /** Recent latency (e.g. an EWMA), milliseconds; undefined before the first response. */
  readonly latencyMs: number | undefined;
}

/** One service and its instances. */
export interface ServiceView {
  readonly name: string;
  readonly instances: readonly InstanceView[];
}

/** Supplies the current services (the gateway passes a closure over its discovery state). */
export type ServicesView = () => readonly ServiceView[];
