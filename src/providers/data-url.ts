import { GatewayError } from '../errors/gateway-error.js';

export interface DecodedDataUrl {
  contentType: string;
  bytes: Buffer;
}

/**
 * Decodes a base64 `data:` URL whose type is one of `allowedTypes`, checking the declared
 * type, the size and the file's magic bytes before anything is uploaded anywhere.
 */
export function decodeDataUrl(
  value: string,
  field: string,
  allowedTypes: readonly string[],
  maxBytes: number,
): DecodedDataUrl {
  const invalid = (message: string) => GatewayError.invalid([{ path: field, message }]);
  const match = /^data:([a-z]+\/[a-z0-9.+-]+)(?:;[a-z-]+=[^;,]*)*;base64,/i.exec(value);
  if (!match?.[1]) throw invalid('expected a base64 data: URL (data:image/png;base64,...)');
  const contentType = match[1].toLowerCase();
  if (!allowedTypes.includes(contentType)) {
    throw invalid(`type ${contentType} is not accepted; use ${allowedTypes.join(', ')}`);
  }
  const payload = value.slice(match[0].length);
  if (Math.floor((payload.length * 3) / 4) > maxBytes) {
    throw invalid(`file is larger than ${Math.round(maxBytes / 1024 / 1024)} MB`);
  }
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.length === 0) throw invalid('the data: URL holds no data');
  if (sniff(bytes) !== contentType.replace('image/jpg', 'image/jpeg')) {
    throw invalid(`the bytes are not a ${contentType} file`);
  }
  return { contentType, bytes };
}

function sniff(b: Buffer): string | undefined {
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47) return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (
    b.length >= 12 &&
    b.toString('ascii', 0, 4) === 'RIFF' &&
    b.toString('ascii', 8, 12) === 'WEBP'
  )
    return 'image/webp';
  if (b.length >= 12 && b.toString('ascii', 4, 8) === 'ftyp') return 'video/mp4';
  return undefined;
}
