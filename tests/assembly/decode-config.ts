// The configuration decoder as specs call it: from a JSON string, the decoded configuration or the error message.
import { decodeConfig } from "../../assembly/config/decode";
import { Config } from "../../assembly/config/model";

export function decode(json: string): Config | null {
  const b = String.UTF8.encode(json);
  return decodeConfig(changetype<usize>(b), <usize>b.byteLength).config;
}

export function error(json: string): string {
  const b = String.UTF8.encode(json);
  return decodeConfig(changetype<usize>(b), <usize>b.byteLength).error;
}
