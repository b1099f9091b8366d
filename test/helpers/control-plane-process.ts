// The test control plane (fake-control-plane.ts) as a process of its own, so a test can kill -9 it:
//   node bin/run-ts.js test/helpers/control-plane-process.ts PORT VERSION DOCUMENT_JSON
// Prints {"msg":"listening","address":…} once bound, then one {"msg":"received",…} line per
// message an agent sends.
import { TestControlPlane } from './fake-control-plane.ts';

const [port, version, document] = process.argv.slice(2);
const plane = await TestControlPlane.start({ port: Number(port), snapshot: { version: Number(version), document: JSON.parse(document ?? '{}') as object } });
process.stdout.write(`${JSON.stringify({ msg: 'listening', address: plane.address })}\n`);
let printed = 0;
for (;;) {
  await plane.waitFor(() => true, 3_600_000, printed);
  while (printed < plane.received.length) {
    const { stream, message } = plane.received[printed++]!;
    process.stdout.write(`${JSON.stringify({ msg: 'received', stream, ...message })}\n`);
  }
}
