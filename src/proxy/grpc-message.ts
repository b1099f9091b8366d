// grpc-message is percent-encoded as the gRPC HTTP/2 spec says: printable ASCII other than
// '%' goes as is, every other UTF-8 byte as %XX. encodeURIComponent would also escape ':' and
// '/', which clients (grpc-js decodes with decodeURI) then show to users escaped.

const PLAIN = /^[\x20-\x24\x26-\x7e]*$/;

export function encodeGrpcMessage(message: string): string {
  if (PLAIN.test(message)) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
