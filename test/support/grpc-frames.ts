// Length-prefixed messages, the framing gRPC, gRPC-Web and Connect streaming
// share: one written by hand, and a body split back into them. The tests, the
// bench and the fuzzer use this one copy.

export interface FrameOptions {
  /** The flag byte: 0x80 marks a gRPC-Web trailer, 0x02 a Connect end of stream. */
  flags?: number;
  /** Sets the compressed bit (0x01) on top of `flags`. */
  compressed?: boolean;
  /** The length the prefix declares, when a test wants it to lie. */
  declaredLength?: number;
}

/** A flag byte, a 4-byte big-endian length, then the payload. */
export function grpcFrame(payload: Uint8Array, options: FrameOptions = {}): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = (options.flags ?? 0) | (options.compressed ? 1 : 0);
  prefix.writeUInt32BE(options.declaredLength ?? payload.length, 1);
  return Buffer.concat([prefix, payload]);
}

/** The frames of a body, in order; an incomplete last prefix is left out. */
export function splitFrames(body: Buffer): Array<{ flags: number; data: Buffer }> {
  const out: Array<{ flags: number; data: Buffer }> = [];
  for (let at = 0; at + 5 <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    out.push({ flags: body.readUInt8(at), data: body.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}
