// How many CPUs this process may use, for the WORKERS and INFERENCE_WORKERS
// defaults: the CPUs it may run on (os.availableParallelism), capped by the
// CPU quota of its cgroup when a container runtime set one (a Kubernetes CPU
// limit, `docker run --cpus`). Node 20's libuv (1.46) counts the node's CPUs
// and ignores the quota, so on a 32-core node a pod limited to one CPU would
// start 32 server processes, each with its models in memory.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";

/** Reads a text file, or undefined when it is not there. */
export type ReadText = (path: string) => string | undefined;

const readText: ReadText = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

/** availableParallelism(), capped by the cgroup CPU quota rounded up. */
export function cpuBudget(read: ReadText = readText, root = "/sys/fs/cgroup"): number {
  const cpus = availableParallelism();
  const quota = cgroupCpuQuota(read, root);
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.ceil(quota)));
}

/**
 * The CPU quota of this process's cgroup and of its ancestors, the smallest,
 * in CPUs (e.g. 1.5), or undefined when none is set. cgroup v2 keeps it in
 * `cpu.max` ("150000 100000", or "max 100000" for none); v1 in
 * `cpu.cfs_quota_us` (-1 for none) over `cpu.cfs_period_us`. A container
 * usually sees its own cgroup at the mount's root; without a cgroup
 * namespace, /proc/self/cgroup names the path below it.
 */
export function cgroupCpuQuota(read: ReadText, root: string): number | undefined {
  const quotas: number[] = [];
  for (const line of (read("/proc/self/cgroup") ?? "").split("\n")) {
    const [id, controllers, path] = splitCgroupLine(line);
    if (path === undefined) continue;
    if (id === "0" && controllers === "") {
      for (const dir of withAncestors(root, path)) {
        const v2 = parseCpuMax(read(`${dir}/cpu.max`));
        if (v2 !== undefined) quotas.push(v2);
      }
    } else if (controllers.split(",").includes("cpu")) {
      for (const mount of [`${root}/${controllers}`, `${root}/cpu`]) {
        for (const dir of withAncestors(mount, path)) {
          const v1 = parseCfsQuota(read(`${dir}/cpu.cfs_quota_us`), read(`${dir}/cpu.cfs_period_us`));
          if (v1 !== undefined) quotas.push(v1);
        }
      }
    }
  }
  return quotas.length > 0 ? Math.min(...quotas) : undefined;
}

/** "hierarchy-ID:controller-list:cgroup-path"; the path may itself hold colons. */
function splitCgroupLine(line: string): [string, string, string | undefined] {
  const first = line.indexOf(":");
  const second = line.indexOf(":", first + 1);
  if (first < 0 || second < 0) return ["", "", undefined];
  return [line.slice(0, first), line.slice(first + 1, second), line.slice(second + 1).trim()];
}

/** `base` + `path`, then each parent directory of it down to `base` itself. */
function withAncestors(base: string, path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "" && p !== "." && p !== "..");
  const dirs: string[] = [];
  for (let n = parts.length; n >= 0; n--) dirs.push([base, ...parts.slice(0, n)].join("/"));
  return dirs;
}

/** cgroup v2 cpu.max: "<quota> <period>" in µs, quota "max" for none. */
export function parseCpuMax(text: string | undefined): number | undefined {
  const [quota, period] = (text ?? "").trim().split(/\s+/);
  const q = Number(quota);
  const p = Number(period ?? 100_000);
  return quota !== "max" && q > 0 && p > 0 ? q / p : undefined;
}

/** cgroup v1 cpu.cfs_quota_us (-1 for none) over cpu.cfs_period_us. */
export function parseCfsQuota(quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota?.trim());
  const p = Number(period?.trim());
  return q > 0 && p > 0 ? q / p : undefined;
}
