// LineBuffer on real file descriptors: nothing is written before the
// threshold, everything in order after it or on flush(), and a descriptor
// that fails does not throw into the caller.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LineBuffer } from "../src/line-buffer.js";

describe("LineBuffer", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    vi.restoreAllMocks();
  });
  function tempFile(): { fd: number; read: () => string } {
    const dir = mkdtempSync(join(tmpdir(), "line-buffer-"));
    dirs.push(dir);
    const path = join(dir, "log");
    const fd = openSync(path, "w");
    return { fd, read: () => readFileSync(path, "utf8") };
  }

  it("holds lines until the threshold, then writes them all at once, in order", () => {
    const file = tempFile();
    const buffer = new LineBuffer(file.fd, 30);
    buffer.write("first line\n");
    buffer.write("second line\n");
    expect(file.read()).toBe("");
    buffer.write("third line\n"); // 11 + 12 + 11 = 34 >= 30
    expect(file.read()).toBe("first line\nsecond line\nthird line\n");
    buffer.write("fourth\n");
    expect(file.read()).toBe("first line\nsecond line\nthird line\n");
    buffer.flush();
    expect(file.read()).toBe("first line\nsecond line\nthird line\nfourth\n");
    let called = 0;
    buffer.flush(() => called++); // nothing waiting: nothing written, but the callback runs
    expect(file.read()).toBe("first line\nsecond line\nthird line\nfourth\n");
    expect(called).toBe(1);
    closeSync(file.fd);
  });

  it("writes text outside ASCII as UTF-8", () => {
    const file = tempFile();
    const buffer = new LineBuffer(file.fd, 1 << 20);
    buffer.write('{"msg":"décision – 決定 ✓"}\n');
    buffer.flush();
    expect(file.read()).toBe('{"msg":"décision – 決定 ✓"}\n');
    closeSync(file.fd);
  });

  it("drops the lines of a descriptor that fails, says so once on stderr, and never throws", () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    // A descriptor number no process has open (EBADF), rather than a closed one a test runner might reuse.
    const buffer = new LineBuffer(999_999, 1);
    expect(() => buffer.write("lost\n")).not.toThrow();
    expect(() => buffer.write("lost too\n")).not.toThrow();
    expect(stderr).toHaveBeenCalledTimes(1);
    expect(String(stderr.mock.calls[0]![0])).toMatch(/log lines could not be written/);
  });
});
