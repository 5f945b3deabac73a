/** One benchmark figure. `name` is the field in bench/results.json (e.g. "filter.authorizedNsPerReq"). */
export interface BenchRow {
  name: string;
  value: number;
  unit: string;
  /** Human-readable goal, e.g. "<= 0.5". */
  goal?: string;
  met?: boolean;
}
