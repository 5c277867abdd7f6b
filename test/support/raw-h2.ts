// HTTP/2 frames written by hand on a plain socket, for what a well-behaved
// client library never sends: more streams than the server allows, and
// floods of HEADERS + RST_STREAM (rapid reset).
import * as net from "node:net";

export const FRAME = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8 } as const;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const ACK = 0x1;
export const ERROR_CODE = { NO_ERROR: 0, INTERNAL_ERROR: 2, REFUSED_STREAM: 7, CANCEL: 8, ENHANCE_YOUR_CALM: 11 } as const;

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK literal fields without indexing, new names (lengths under 127 bytes). */
export function headerBlock(fields: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    const n = Buffer.from(name, "latin1");
    const v = Buffer.from(value, "latin1");
    if (n.length > 126 || v.length > 126) throw new Error("headerBlock: keep names and values under 127 bytes");
    parts.push(Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v);
  }
  return Buffer.concat(parts);
}

export function headersFrame(streamId: number, block: Buffer, endStream: boolean): Buffer {
  return frame(FRAME.HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), streamId, block);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, streamId, payload);
}

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export interface RawH2Connection {
  socket: net.Socket;
  /** Every frame the server has sent so far. */
  frames: Frame[];
  /** Resolves once the server's first GOAWAY has arrived (or the socket closed: undefined). */
  goaway: Promise<{ lastStreamId: number; code: number } | undefined>;
  closed: Promise<void>;
  write(data: Buffer): Promise<void>;
}

/** A raw HTTP/2 connection: preface and empty SETTINGS sent; the server's SETTINGS acknowledged. */
export async function rawH2(port: number): Promise<RawH2Connection> {
  const socket = net.connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const frames: Frame[] = [];
  let buffered = Buffer.alloc(0);
  let onGoaway: (g: { lastStreamId: number; code: number } | undefined) => void = () => {};
  const goaway = new Promise<{ lastStreamId: number; code: number } | undefined>((r) => (onGoaway = r));
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  void closed.then(() => onGoaway(undefined));
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 9) {
      const length = buffered.readUIntBE(0, 3);
      if (buffered.length < 9 + length) break;
      const f = { type: buffered[3]!, flags: buffered[4]!, streamId: buffered.readUInt32BE(5) & 0x7fffffff, payload: buffered.subarray(9, 9 + length) };
      buffered = buffered.subarray(9 + length);
      frames.push(f);
      if (f.type === FRAME.SETTINGS && !(f.flags & ACK)) socket.write(frame(FRAME.SETTINGS, ACK, 0));
      if (f.type === FRAME.GOAWAY) onGoaway({ lastStreamId: f.payload.readUInt32BE(0) & 0x7fffffff, code: f.payload.readUInt32BE(4) });
    }
  });
  const write = (data: Buffer) =>
    new Promise<void>((resolve) => {
      if (socket.destroyed) return resolve();
      socket.write(data, () => resolve());
    });
  await write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
  return { socket, frames, goaway, closed, write };
}
