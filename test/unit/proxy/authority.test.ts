import { describe, expect, it } from 'vitest';
import { parseAbsoluteTarget, requestAuthority, routingName } from '../../../src/proxy/route/authority.ts';

describe('routingName', () => {
  it.each([
    ['catalog', 'catalog'],
    ['Catalog:8080', 'catalog'],
    ['CATALOG.mesh.', 'catalog.mesh'],
    ['catalog.:80', 'catalog'],
    ['[::1]:9000', '::1'],
    ['[FE80::1]', 'fe80::1'],
  ])('%s routes as %s', (authority, name) => {
    expect(routingName(authority)).toBe(name);
  });
});

describe('requestAuthority', () => {
  it('takes the target over the Host header when both name the same authority', () => {
    expect(requestAuthority('catalog', 'Catalog:80')).toBe('catalog');
    expect(requestAuthority('catalog.:8080', 'catalog:8080')).toBe('catalog.:8080');
  });

  it('refuses a Host that names another authority than the target', () => {
    expect(requestAuthority('catalog', 'evil.example')).toMatchObject({ reason: 'authority_mismatch' });
    expect(requestAuthority('catalog:8080', 'catalog')).toMatchObject({ reason: 'authority_mismatch' });
  });

  it('refuses userinfo and what is no host', () => {
    expect(requestAuthority('catalog:pw@evil.example', undefined)).toMatchObject({ reason: 'userinfo' });
    expect(requestAuthority(undefined, 'catalog/x')).toMatchObject({ reason: 'bad_authority' });
    expect(requestAuthority(undefined, 'catalog:port')).toMatchObject({ reason: 'bad_authority' });
  });

  it('uses the Host header alone, and names none when there is none', () => {
    expect(requestAuthority(undefined, '127.0.0.1:9000')).toBe('127.0.0.1:9000');
    expect(requestAuthority(undefined, undefined)).toBe('');
    expect(requestAuthority(undefined, '')).toBe('');
  });
});

describe('parseAbsoluteTarget', () => {
  it('splits an http URI into authority and origin-form path', () => {
    expect(parseAbsoluteTarget('http://catalog/items?id=1')).toEqual({ authority: 'catalog', path: '/items?id=1' });
    expect(parseAbsoluteTarget('HTTP://catalog:8080')).toEqual({ authority: 'catalog:8080', path: '/' });
    expect(parseAbsoluteTarget('http://catalog?id=1')).toEqual({ authority: 'catalog', path: '/?id=1' });
  });

  it('refuses other schemes and a missing authority', () => {
    expect(parseAbsoluteTarget('https://catalog/')).toMatchObject({ reason: 'bad_request' });
    expect(parseAbsoluteTarget('http:///x')).toMatchObject({ reason: 'bad_request' });
  });
});
