// What the fault bench reads from each proxy's own counters: HAProxy's CSV stats and meshlet's
// Prometheus text, for the attempts a killed instance was still sent.
import { describe, expect, it } from 'vitest';
import { haproxySessions, meshletAttempts } from '../../../bench/faults/proxies.ts';

describe("the fault bench's proxy counters", () => {
  it("read a server's stot from HAProxy's CSV, by name, whatever the column order", () => {
    const csv = [
      '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin',
      'fe,FRONTEND,,,0,3,4000,1000,9000',
      'be,s1,0,0,0,1,,340,3000',
      'be,s3,0,0,0,1,,354,3100',
      'be,BACKEND,0,0,0,3,400,1000,9000',
      '',
    ].join('\n');
    expect(haproxySessions(csv, 's3')).toBe(354);
    expect(haproxySessions(csv, 's1')).toBe(340);
    expect(() => haproxySessions(csv, 's2')).toThrow(/no stot for server s2/);
  });

  it("sum meshlet_requests_total over every label set of one endpoint, and only that endpoint's", () => {
    const text = [
      '# TYPE meshlet_requests_total counter',
      'meshlet_requests_total{upstream="faults",endpoint="127.0.0.1:4001",protocol="http1",status_class="2xx",classification="success"} 300',
      'meshlet_requests_total{upstream="faults",endpoint="127.0.0.1:4001",protocol="http1",status_class="none",classification="failure"} 2',
      'meshlet_requests_total{upstream="faults",endpoint="127.0.0.1:40011",protocol="http1",status_class="2xx",classification="success"} 7',
      'meshlet_requests_in_flight{upstream="faults",endpoint="127.0.0.1:4001"} 5',
    ].join('\n');
    expect(meshletAttempts(text, '127.0.0.1:4001')).toBe(302);
    expect(meshletAttempts(text, '127.0.0.1:4002')).toBe(0);
  });
});
