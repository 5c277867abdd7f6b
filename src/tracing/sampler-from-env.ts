// The sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name, as the
// SDK itself would build it (the SDK does not export its own builder). Made
// here so that the server can ask it before the SDK makes a span (call-spans.ts).
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from "@opentelemetry/sdk-trace-node";

type Env = Record<string, string | undefined>;

export interface EnvSampling {
  sampler: Sampler;
  /** The trace-id ratio the sampler applies to a call with no incoming trace, if it is one (TracingOptions.rootRatio). */
  rootRatio?: number;
}

/** The SDK's default: parentbased_always_on; an unknown name falls back to it too. */
export function samplerFromEnv(env: Env): EnvSampling {
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
  // As the SDK: a blank or out-of-range ratio is 1.
  const ratio = env.OTEL_TRACES_SAMPLER_ARG?.trim() && arg >= 0 && arg <= 1 ? arg : 1;
  switch (env.OTEL_TRACES_SAMPLER?.trim()) {
    case "always_on":
      return { sampler: new AlwaysOnSampler() };
    case "always_off":
      return { sampler: new AlwaysOffSampler(), rootRatio: 0 };
    case "traceidratio":
      return { sampler: new TraceIdRatioBasedSampler(ratio), rootRatio: ratio };
    case "parentbased_always_off":
      return { sampler: new ParentBasedSampler({ root: new AlwaysOffSampler() }), rootRatio: 0 };
    case "parentbased_traceidratio":
      return { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }), rootRatio: ratio };
    default:
      return { sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }) };
  }
}
