// LineBuffer on real file descriptors: nothing is written before the
// threshold, everything in order after it or on flush(), a descriptor that
// fails does not throw into the caller, a full pipe does not hold up the
// caller, and writers sharing a pipe never cut each other's lines.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LineBuffer, PIPE_BUF } from "../src/line-buffer.js";

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
    const buffer = new LineBuffer(file.fd, { minChars: 30 });
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
    const buffer = new LineBuffer(file.fd, { minChars: 1 << 20 });
    buffer.write('{"msg":"décision – 決定 ✓"}\n');
    buffer.flush();
    expect(file.read()).toBe('{"msg":"décision – 決定 ✓"}\n');
    closeSync(file.fd);
  });

  it("drops the lines of a descriptor that fails, says so once on stderr, and never throws", () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    // A descriptor number no process has open (EBADF), rather than a closed one a test runner might reuse.
    const buffer = new LineBuffer(999_999, { minChars: 1 });
    expect(() => buffer.write("lost\n")).not.toThrow();
    expect(() => buffer.write("lost too\n")).not.toThrow();
    expect(stderr).toHaveBeenCalledTimes(1);
    expect(String(stderr.mock.calls[0]![0])).toMatch(/log lines could not be written/);
  });

  /** A named pipe (64 KiB, like a container's stdout), both ends non-blocking as Node leaves a stdout pipe. */
  function fifo(): { path: string; writer: () => number; read: (max?: number) => string; close: () => void } {
    const dir = mkdtempSync(join(tmpdir(), "line-buffer-"));
    dirs.push(dir);
    const path = join(dir, "pipe");
    execFileSync("mkfifo", [path]);
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const writers: number[] = [];
    const chunk = Buffer.alloc(1 << 16);
    return {
      path,
      writer: () => {
        const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
        writers.push(fd);
        return fd;
      },
      read: (max = Infinity) => {
        let text = "";
        while (text.length < max) {
          let n = 0;
          try {
            n = readSync(reader, chunk, 0, Math.min(chunk.length, max - text.length), null);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
          }
          if (n <= 0) break;
          text += chunk.toString("latin1", 0, n);
        }
        return text;
      },
      close: () => {
        for (const fd of [reader, ...writers]) closeSync(fd);
      },
    };
  }
  /**
   * Should a writer wait for the reader when it must not, the test's own reads
   * never come; this reader starts after a while and frees it, so the test
   * fails instead of hanging. Returns the function that calls it off.
   */
  function rescueReader(path: string): () => void {
    const child = spawn("sh", ["-c", `sleep 10 && exec cat < "${path}" > /dev/null`]);
    return () => child.kill();
  }
  const line = (who: string, i: number) => `{"who":"${who}","i":${i},"pad":"${"x".repeat(200)}"}\n`;

  it("keeps what a full pipe does not take and writes it once the reader catches up, without waiting for it", async () => {
    const pipe = fifo();
    const rescue = rescueReader(pipe.path);
    const buffer = new LineBuffer(pipe.writer(), { minChars: 1, retryMs: 1 });
    // ~300 KB into a 64 KiB pipe nobody reads yet: a write that waited for the reader would never return.
    for (let i = 0; i < 1200; i++) buffer.write(line("a", i));
    expect(buffer.pendingByteCount).toBeGreaterThan(200_000);
    let text = pipe.read();
    for (let tries = 0; buffer.pendingByteCount > 0 && tries < 2000; tries++) {
      await new Promise((r) => setTimeout(r, 2));
      text += pipe.read();
    }
    text += pipe.read();
    expect(buffer.pendingByteCount).toBe(0);
    expect(
      text
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).i),
    ).toEqual(Array.from({ length: 1200 }, (_, i) => i));
    rescue();
    pipe.close();
  });

  it("waits for the reader once more than maxPendingBytes are kept, so a stopped reader cannot grow memory without bound", async () => {
    const pipe = fifo();
    const out = join(dirs[dirs.length - 1]!, "read");
    // A reader that starts late: until then the pipe is full and the writer must wait for it past the bound.
    const reader = spawn("sh", ["-c", `sleep 0.3; cat < "${pipe.path}" > "${out}"`]);
    const buffer = new LineBuffer(pipe.writer(), { minChars: 1, maxPendingBytes: 100_000 });
    for (let i = 0; i < 1000; i++) {
      buffer.write(line("a", i));
      expect(buffer.pendingByteCount).toBeLessThanOrEqual(100_000);
    }
    buffer.flush();
    expect(buffer.pendingByteCount).toBe(0);
    pipe.close();
    await new Promise((resolve) => reader.once("exit", resolve));
    const lines = readFileSync(out, "utf8").split("\n").filter(Boolean);
    expect(lines.map((l) => JSON.parse(l).i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it("writes whole lines of at most PIPE_BUF bytes at a time when atomic, so writers sharing a pipe never cut each other's lines", () => {
    const mixed = (atomicBytes: number | undefined) => {
      const pipe = fifo();
      const rescue = rescueReader(pipe.path);
      // Batches of different sizes, so that one writer's batch often lands while the other's is half written.
      const a = new LineBuffer(pipe.writer(), { minChars: 20_000, atomicBytes });
      const b = new LineBuffer(pipe.writer(), { minChars: 7_000, atomicBytes });
      let text = "";
      // Two processes' worth of batches into one pipe, the reader always a little behind.
      for (let i = 0; i < 2000; i++) {
        a.write(line("a", i));
        b.write(line("b", i));
        if (i % 50 === 0) text += pipe.read(12_000);
      }
      for (let tries = 0; (a.pendingByteCount > 0 || b.pendingByteCount > 0) && tries < 10_000; tries++) {
        text += pipe.read();
        a.flushSoon();
        b.flushSoon();
      }
      a.flush();
      b.flush();
      text += pipe.read();
      rescue();
      pipe.close();
      return text.split("\n").filter(Boolean);
    };
    const atomic = mixed(PIPE_BUF);
    expect(atomic).toHaveLength(4000);
    for (const who of ["a", "b"]) {
      const parsed = atomic.map((l) => JSON.parse(l) as { who: string; i: number }).filter((l) => l.who === who);
      expect(parsed.map((l) => l.i)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    }
    // The same load in batches as large as the pipe cuts lines: what atomicBytes is for.
    const cut = mixed(undefined).filter((l) => !/^\{"who":"[ab]","i":\d+,"pad":"x{200}"\}$/.test(l));
    expect(cut.length).toBeGreaterThan(0);
  });
});
