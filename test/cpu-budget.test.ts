// The CPU budget behind the WORKERS and INFERENCE_WORKERS defaults: the
// cgroup CPU quota of a container (v2 and v1 layouts, with and without a
// cgroup namespace) caps os.availableParallelism().
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { cgroupCpuQuota, cpuBudget, parseCfsQuota, parseCpuMax, type ReadText } from "../src/cpu-budget.js";

/** A file system of a few text files. */
const files =
  (contents: Record<string, string>): ReadText =>
  (path) =>
    contents[path];

const ROOT = "/sys/fs/cgroup";

describe("parseCpuMax and parseCfsQuota", () => {
  it("read a quota in CPUs, and none as undefined", () => {
    expect(parseCpuMax("150000 100000\n")).toBe(1.5);
    expect(parseCpuMax("max 100000\n")).toBeUndefined();
    expect(parseCpuMax(undefined)).toBeUndefined();
    expect(parseCpuMax("")).toBeUndefined();
    expect(parseCfsQuota("200000\n", "100000\n")).toBe(2);
    expect(parseCfsQuota("-1\n", "100000\n")).toBeUndefined();
    expect(parseCfsQuota(undefined, "100000")).toBeUndefined();
  });
});

describe("cgroupCpuQuota", () => {
  it("cgroup v2 in a cgroup namespace: the container's cpu.max at the mount's root", () => {
    const read = files({ "/proc/self/cgroup": "0::/\n", [`${ROOT}/cpu.max`]: "100000 100000\n" });
    expect(cgroupCpuQuota(read, ROOT)).toBe(1);
  });

  it("cgroup v2 without a namespace: the smallest quota on the path from the process's cgroup up", () => {
    const read = files({
      "/proc/self/cgroup": "0::/kubepods.slice/pod1/container1\n",
      [`${ROOT}/kubepods.slice/pod1/container1/cpu.max`]: "max 100000\n",
      [`${ROOT}/kubepods.slice/pod1/cpu.max`]: "50000 100000\n",
      [`${ROOT}/kubepods.slice/cpu.max`]: "800000 100000\n",
    });
    expect(cgroupCpuQuota(read, ROOT)).toBe(0.5);
  });

  it("cgroup v1: cpu.cfs_quota_us over cpu.cfs_period_us, under the cpu controller's mount", () => {
    const read = files({
      "/proc/self/cgroup": "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n",
      [`${ROOT}/cpu,cpuacct/cpu.cfs_quota_us`]: "300000\n",
      [`${ROOT}/cpu,cpuacct/cpu.cfs_period_us`]: "100000\n",
    });
    expect(cgroupCpuQuota(read, ROOT)).toBe(3);
  });

  it("no quota anywhere, or no cgroup files at all: undefined", () => {
    expect(cgroupCpuQuota(files({ "/proc/self/cgroup": "0::/\n", [`${ROOT}/cpu.max`]: "max 100000\n" }), ROOT)).toBeUndefined();
    expect(
      cgroupCpuQuota(
        files({ "/proc/self/cgroup": "1:cpu:/\n", [`${ROOT}/cpu/cpu.cfs_quota_us`]: "-1\n", [`${ROOT}/cpu/cpu.cfs_period_us`]: "100000\n" }),
        ROOT,
      ),
    ).toBeUndefined();
    expect(cgroupCpuQuota(files({}), ROOT)).toBeUndefined();
  });
});

describe("cpuBudget", () => {
  it("is the CPUs the process may run on, capped by the quota rounded up, and at least 1", () => {
    const withQuota = (cpuMax: string) => cpuBudget(files({ "/proc/self/cgroup": "0::/\n", [`${ROOT}/cpu.max`]: cpuMax }), ROOT);
    expect(withQuota("max 100000")).toBe(availableParallelism());
    expect(withQuota("100000 100000")).toBe(1);
    expect(withQuota("10000 100000")).toBe(1); // a tenth of a CPU still runs one process
    expect(withQuota("150000 100000")).toBe(Math.min(2, availableParallelism()));
    expect(withQuota("6400000 100000")).toBe(availableParallelism()); // a quota above the cores: the cores
  });
});
