// ApplyPolicy and Rollback against a store: validate (an invalid document is never stored, so
// never pushed), compare-and-set on the version the operator based it on, diff against the
// current document, and for a dry run stop there. The stored text is the validated document
// re-serialized, so what agents get is exactly what was checked.
import type { ApplyPolicyRequest, ApplyPolicyResponse, FieldError, RollbackRequest } from './control-proto.ts';
import type { ApplyResult } from './control-metrics.ts';
import { policyDiff } from './policy-diff.ts';
import { parsePolicyDocument } from './policy-document.ts';
import { MAX_DOCUMENT_BYTES, type PolicySnapshot, type PolicyStore } from './policy-store.ts';

export interface OperationOutcome {
  readonly response: ApplyPolicyResponse;
  readonly result: ApplyResult;
}

export class PolicyOperations {
  constructor(
    private readonly store: PolicyStore,
    private readonly wallNow: () => number,
  ) {}

  async apply(request: ApplyPolicyRequest): Promise<OperationOutcome> {
    const bytes = Buffer.byteLength(request.documentJson, 'utf8');
    if (bytes > MAX_DOCUMENT_BYTES) return refused([{ path: '', message: `the document is ${bytes} bytes; at most ${MAX_DOCUMENT_BYTES}` }]);
    let value: unknown;
    try {
      value = request.documentJson.trim() === '' ? {} : JSON.parse(request.documentJson);
    } catch (error) {
      return refused([{ path: '', message: `document_json is not JSON: ${(error as Error).message}` }]);
    }
    return this.validateAndStore(value, request, 0);
  }

  async rollback(request: RollbackRequest): Promise<OperationOutcome> {
    const target = request.toVersion > 0 ? await this.store.get(request.toVersion) : undefined;
    if (target === undefined) {
      const current = (await this.store.fresh()).version;
      return refused([{ path: 'to_version', message: `there is no version ${request.toVersion}; versions run from 1 to ${current}` }]);
    }
    const value: unknown = JSON.parse(target.documentJson);
    return this.validateAndStore(value, { documentJson: target.documentJson, expectedVersion: request.expectedVersion, force: request.force, dryRun: false, author: request.author }, target.version);
  }

  private async validateAndStore(value: unknown, request: ApplyPolicyRequest, rolledBackFrom: number): Promise<OperationOutcome> {
    const parsed = parsePolicyDocument(value);
    if (!parsed.ok) return refused(parsed.errors.map((e) => ({ path: e.path, message: e.message })));
    const current = await this.store.fresh();
    if (!request.force && request.expectedVersion !== current.version) return conflict(request.expectedVersion, current.version);
    const documentJson = JSON.stringify(parsed.document);
    const diff = policyDiff(documentOf(current), parsed.document);
    if (documentJson === current.documentJson) {
      return { result: 'unchanged', response: { ok: true, version: current.version, errors: [], diff: [], unchanged: true } };
    }
    if (request.dryRun) return { result: 'dry_run', response: { ok: true, version: current.version + 1, errors: [], diff, unchanged: false } };
    const put = await this.store.put(
      { documentJson, author: request.author, rolledBackFrom, createdAtMs: this.wallNow() },
      request.force ? undefined : request.expectedVersion,
    );
    if (!put.ok) return conflict(request.expectedVersion, put.currentVersion);
    return { result: 'applied', response: { ok: true, version: put.snapshot.version, errors: [], diff, unchanged: false } };
  }
}

function documentOf(snapshot: PolicySnapshot): unknown {
  return snapshot.version === 0 ? {} : JSON.parse(snapshot.documentJson);
}

function refused(errors: FieldError[]): OperationOutcome {
  return { result: 'invalid', response: { ok: false, version: 0, errors, diff: [], unchanged: false } };
}

function conflict(expected: number, current: number): OperationOutcome {
  const message = `the policy is at version ${current}, not ${expected}: read it again (meshlet get policy), apply on top of version ${current}, or force`;
  return { result: 'conflict', response: { ok: false, version: current, errors: [{ path: 'expected_version', message }], diff: [], unchanged: false } };
}
