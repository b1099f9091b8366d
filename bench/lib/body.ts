// The small response body every HTTP upstream answers with: 100 bytes, as a typical tiny JSON reply.
export const RESPONSE_BODY = Buffer.from('hello '.repeat(17).slice(0, 99) + '\n');
