// A protobuf Duration as fractional milliseconds (protobuf-es's durationMs()
// rounds to whole ones, and image timings are often under 1 ms); 0 when absent.
import type { Duration } from "@bufbuild/protobuf/wkt";

export const ms = (d: Duration | undefined): number => (d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0);
