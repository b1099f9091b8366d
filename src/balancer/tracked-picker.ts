// The part every picker shares: counting requests in flight per endpoint (through the load
// records carried between pickers) and describing itself for the admin API.

import type { Endpoint } from './endpoint-set.ts';
import type { EndpointLoad, LoadTable } from './load-table.ts';
import type { PickerContext } from './picker-context.ts';
import type { EndpointPickerState, PickRequest, Picker, PickerState } from './picker.ts';

export abstract class TrackedPicker implements Picker {
  abstract readonly algorithm: string;
  readonly loadTable: LoadTable;
  protected readonly endpoints: readonly Endpoint[];
  /** Aligned with `endpoints`. */
  protected readonly loads: readonly EndpointLoad[];

  constructor(context: PickerContext, endpoints: readonly Endpoint[] = context.endpoints) {
    this.loadTable = context.loads;
    this.endpoints = endpoints;
    // Every eligible endpoint is in the set the table was built from.
    this.loads = endpoints.map((e) => context.loads.get(e.address)!);
  }

  abstract pick(request: PickRequest): Endpoint | undefined;

  onStart(endpoint: Endpoint): void {
    this.loadTable.get(endpoint.address)?.started();
  }

  onEnd(endpoint: Endpoint, latencyMs: number | undefined, failed: boolean): void {
    const load = this.loadTable.get(endpoint.address);
    if (load === undefined) return;
    load.ended();
    if (latencyMs !== undefined) this.observe(load, latencyMs, failed);
  }

  describe(): PickerState {
    return {
      algorithm: this.algorithm,
      endpoints: this.endpoints.map((endpoint, i) => ({
        address: endpoint.address,
        inFlight: this.loads[i]!.inFlight,
        weight: endpoint.weight,
        ...this.describeEndpoint(i),
      })),
    };
  }

  /** Latency feedback, for the algorithms that learn from it. */
  protected observe(_load: EndpointLoad, _latencyMs: number, _failed: boolean): void {}

  /** Algorithm-specific fields of one endpoint's state. */
  protected describeEndpoint(_index: number): Readonly<Record<string, EndpointPickerState[string]>> {
    return {};
  }
}
