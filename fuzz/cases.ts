// One fuzz case from (seed, index) alone, so any case can be sent again:
// protocols and generators take turns, the rest (procedure, HTTP version,
// server path, key, body) comes from the case's own random source.
import { rng } from "../test/support/random-messages.js";
import { GENERATOR_NAMES, GENERATORS, type Body, type GeneratorName } from "./generators.js";
import { pick } from "./mutate.js";
import { FUZZ_PATHS, PROTOCOLS, type FuzzPath, type FuzzProtocol } from "./targets.js";

export type HttpVersion = "h1" | "h2";
/** The server with the unary fast path on, or with every call through connect-node. */
export type ServerPath = "fast" | "connect";

export interface FuzzCase {
  seed: number;
  index: number;
  protocol: FuzzProtocol;
  http: HttpVersion;
  server: ServerPath;
  path: FuzzPath;
  generator: GeneratorName;
  /** Sent with a valid API key (most are, so bodies get past the key check). */
  keyed: boolean;
  body: Body;
}

/** A random source of its own for each case: the seed and the index mixed, then a few values skipped. */
function caseRandom(seed: number, index: number): () => number {
  const r = rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  for (let i = 0; i < 4; i++) r();
  return r;
}

export function fuzzCase(seed: number, index: number): FuzzCase {
  const protocol = PROTOCOLS[index % PROTOCOLS.length]!;
  const generator = GENERATOR_NAMES[Math.floor(index / PROTOCOLS.length) % GENERATOR_NAMES.length]!;
  const r = caseRandom(seed, index);
  const path = pick(r, FUZZ_PATHS);
  // gRPC needs HTTP/2; the other two are served on both.
  const http: HttpVersion = protocol === "grpc" || r() < 0.5 ? "h2" : "h1";
  const server: ServerPath = r() < 0.5 ? "fast" : "connect";
  const keyed = r() < 0.95;
  return { seed, index, protocol, http, server, path, generator, keyed, body: GENERATORS[generator]({ protocol, path }, r) };
}

/** How a case is named in the report: enough to find it, with the command that sends it again. */
export function describeCase(c: FuzzCase): string {
  return `#${c.index} ${c.protocol}/${c.http} ${c.path.path} ${c.generator} server=${c.server}${c.keyed ? "" : " no-key"} (replay: npm run fuzz -- --seed ${c.seed} --only ${c.index})`;
}
