// Load generators, upstreams and this harness share CPU 0; the proxy under test has CPU 1 to itself.
export const LOAD_CPU = 0;
export const PROXY_CPU = 1;
