// control.address: one control plane, or its replicas separated by commas, tried in that order.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.ts';

function controlAddresses(address: string): string[] {
  const result = parseConfig(`control: { address: "${address}" }\n`, { env: {}, hostname: 'test-host' });
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.config.control!.address.map((a) => a.text);
}

describe('control.address', () => {
  it('takes one address, or several replicas separated by commas (spaces allowed), in order', () => {
    expect(controlAddresses('127.0.0.1:7950')).toEqual(['127.0.0.1:7950']);
    expect(controlAddresses('10.0.0.1:7950, cp-2.internal:7950,[::1]:7951')).toEqual(['10.0.0.1:7950', 'cp-2.internal:7950', '[::1]:7951']);
  });
});
